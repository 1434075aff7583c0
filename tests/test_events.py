"""The generated event models (zoom_async/events.py) and their generator."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from pydantic import TypeAdapter, ValidationError

import zoom_async.events as events
from codegen import webhook_events as gen
from zoom_async.events import EVENT_MODELS, EVENT_NAMES, AnyEvent, ZoomEvent, model_for
from zoom_async.webhooks import parse_event

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES: dict[str, list[Any]] = json.loads(
    (ROOT / "tests" / "data" / "webhook_examples.json").read_text(encoding="utf-8")
)


def key_paths(value: Any, prefix: str = "") -> set[str]:
    """Every object key path in ``value`` (list positions collapsed)."""
    paths: set[str] = set()
    if isinstance(value, dict):
        for key, sub in value.items():
            path = f"{prefix}.{key}"
            paths.add(path)
            paths |= key_paths(sub, path)
    elif isinstance(value, list):
        for item in value:
            paths |= key_paths(item, prefix + "[]")
    return paths


def test_generated_file_header_and_size() -> None:
    path = ROOT / "zoom_async" / "_generated" / "events.py"
    first = path.read_text(encoding="utf-8").splitlines()[0]
    assert first == gen.HEADER
    assert path.stat().st_size < 1_500_000


def test_every_documented_event_has_a_model() -> None:
    assert len(EXAMPLES) >= 500
    assert set(EXAMPLES) <= EVENT_NAMES
    assert "endpoint.url_validation" in EVENT_NAMES
    for name, model in EVENT_MODELS.items():
        assert issubclass(model, ZoomEvent)
        assert model.model_fields["event"].annotation is not str, name
        assert model_for(name) is model
        assert model.__doc__
    assert model_for("not.an_event") is ZoomEvent


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_every_documented_event_parses_its_spec_example(name: str) -> None:
    model = EVENT_MODELS[name]
    for example in EXAMPLES[name]:
        raw = json.dumps(example, ensure_ascii=False).encode()
        parsed = parse_event(raw)  # as published (some examples name a sibling event)
        assert parsed.event == example["event"]
        # Under its own name, strictly: the typed model must accept the documented example...
        fixed = {**example, "event": name}
        event = parse_event(json.dumps(fixed), strict=True)
        assert type(event) is model
        # ...and keep every field of it (none dropped, known or not).
        dumped = event.model_dump(by_alias=True)
        assert key_paths(fixed) <= key_paths(dumped)


def test_examples_whose_event_field_is_a_spec_typo_are_known() -> None:
    typos = {
        name: example["event"]
        for name, examples in EXAMPLES.items()
        for example in examples
        if example.get("event") != name
    }
    # The spec's own mistakes (kept verbatim in the test data); parse_event handles them anyway.
    assert typos["contact_center.user_skills_assigned"].endswith("user_skills_assigned.")
    assert len(typos) < 30


def test_discriminated_union() -> None:
    adapter: TypeAdapter[Any] = TypeAdapter(AnyEvent)
    started = adapter.validate_python(EXAMPLES["meeting.started"][0])
    assert type(started) is events.MeetingStartedEvent
    ended = adapter.validate_json(json.dumps(EXAMPLES["webinar.ended"][0]))
    assert type(ended) is events.WebinarEndedEvent
    with pytest.raises(ValidationError):  # the union is closed; parse_event is the open door
        adapter.validate_python({"event": "not.an_event", "payload": {}})


def test_models_keep_unknown_fields_at_every_level() -> None:
    data: dict[str, Any] = {
        "event": "meeting.participant_joined",
        "event_ts": 1,
        "top": 1,
        "payload": {
            "account_id": "A",
            "p": 2,
            "object": {"id": 5, "o": 3, "participant": {"user_name": "Zoë", "q": 4}},
        },
    }
    event = events.MeetingParticipantJoinedEvent.model_validate(data)
    obj = event.payload.object
    assert obj is not None and obj.participant is not None
    assert obj.id == "5"  # numbers are accepted where the spec says string
    assert obj.participant.user_name == "Zoë"
    assert event.model_dump(exclude_none=True) == {**data, "payload": {
        **data["payload"], "object": {**data["payload"]["object"], "id": "5"}}}  # fmt: skip


def test_fields_with_non_identifier_names_use_aliases() -> None:
    event = parse_event(
        json.dumps(
            {
                "event": "contact_center.message_status",
                "payload": {"account_id": "A", "object": {"from": "+1555", "to": "+1666"}},
            }
        )
    )
    assert isinstance(event, events.ContactCenterMessageStatusEvent)
    assert event.payload.object is not None
    assert event.payload.object.from_ == "+1555"
    assert event.model_dump(by_alias=True)["payload"]["object"]["from"] == "+1555"
    updated = parse_event(
        json.dumps(
            {
                "event": "account.updated",
                "payload": {"old_object": {"$changed_field_name": "x"}},
            }
        )
    )
    assert isinstance(updated, events.AccountUpdatedEvent)
    assert updated.payload.old_object is not None
    assert updated.payload.old_object.changed_field_name == "x"


def test_shared_shapes_are_aliases() -> None:
    assert events.WebinarStartedObject is events.MeetingStartedObject
    assert "webinar.started" in (events.MeetingStartedObject.__doc__ or "")


# ------------------------------------------------------------------------------------------
# The generator


def test_generated_module_is_up_to_date() -> None:
    specs = gen.default_specs_dir()
    if not specs.is_dir():
        pytest.skip(f"webhook specs not available at {specs}")
    source, examples, _ = gen.generate(specs)
    assert source == (ROOT / "zoom_async" / "_generated" / "events.py").read_text(
        encoding="utf-8"
    ), "zoom_async/_generated/events.py is stale: run python -m codegen.webhook_events"
    assert json.loads(examples) == EXAMPLES


PAYLOAD_REF = (
    "#/webhooks/thing.happened/post/requestBody/content/application~1json/schema/properties/payload"
)
SPEC: dict[str, Any] = {
    "openapi": "3.1.0",
    "info": {"title": "Test", "version": "1"},
    "webhooks": {
        "thing.happened": {
            "post": {
                "operationId": "thing.happened",
                "requestBody": {
                    "description": "# thing.happened\n\nThe **Thing** event is triggered when a "
                    'thing happens, with "quotes" and a \\ backslash.\n\nMore.',
                    "content": {
                        "application/json": {
                            "schema": {
                                "type": "object",
                                "properties": {
                                    "event": {"type": "string"},
                                    "event_ts": {"type": "integer"},
                                    "download_token": {"type": "string"},
                                    "payload": {
                                        "type": "object",
                                        "properties": {
                                            "account_id": {"type": "string"},
                                            "object": {
                                                "type": "object",
                                                "properties": {
                                                    "id": {
                                                        "$ref": "#/paths/thing.happened/post/"
                                                        "requestBody/content/application~1json/"
                                                        "schema/components/schemas/Id"
                                                    },
                                                    "from": {"type": "string"},
                                                    "list": {"type": "array", "items": {}},
                                                    "class": {"enum": [1, 2]},
                                                    "count": {"type": "integer"},
                                                    "tags": {
                                                        "type": "array",
                                                        "items": {"type": "string"},
                                                    },
                                                    "when": {
                                                        "anyOf": [
                                                            {"format": "date-time"},
                                                            {"enum": [""]},
                                                        ],
                                                        "type": "string",
                                                    },
                                                    "deep": {
                                                        "type": "object",
                                                        "properties": {
                                                            "deeper": {
                                                                "type": "object",
                                                                "properties": {
                                                                    "x": {"type": "integer"}
                                                                },
                                                            }
                                                        },
                                                    },
                                                },
                                            },
                                        },
                                    },
                                },
                                "components": {"schemas": {"Id": {"type": "integer"}}},
                            },
                            "examples": {
                                "json-example": {
                                    "value": '{\n  "event": "thing.happened", // the name\n'
                                    '  "payload": {"object": {"id": 7, "from": "http://a/b",'
                                    ' "count": "many",}}\n}'
                                }
                            },
                        }
                    },
                },
            }
        },
        "thing.copied": {
            "post": {
                "requestBody": {
                    "content": {
                        "application/json": {
                            "schema": {
                                "type": "object",
                                "properties": {
                                    "event": {"type": "string"},
                                    "payload": {"$ref": PAYLOAD_REF},
                                },
                            }
                        }
                    }
                }
            }
        },
    },
}


def load(path: Path, name: str) -> Any:
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    finally:
        sys.modules.pop(name, None)
    return module


def test_generator_on_a_small_spec(tmp_path: Path) -> None:
    specs = tmp_path / "specs" / "area"
    specs.mkdir(parents=True)
    (specs / "things.json").write_text(json.dumps(SPEC), encoding="utf-8")
    out = tmp_path / "events_out.py"
    examples = tmp_path / "examples.json"
    args = [str(tmp_path / "specs"), "--output", str(out), "--examples", str(examples)]
    assert gen.main([*args, "--depth", "1"]) == 0
    assert gen.main([*args, "--depth", "1", "--check"]) == 0
    module = load(out, "generated_events_test")
    assert set(module.EVENT_NAMES) == {"thing.happened", "thing.copied", "endpoint.url_validation"}
    model = module.ThingHappenedEvent
    assert "backslash" in model.__doc__ and '"' not in model.__doc__
    assert module.ThingCopiedPayload is module.ThingHappenedPayload  # same shape, one class
    # The example is JavaScript-ish (a comment, a trailing comma): repaired into JSON.
    data = json.loads(examples.read_text())
    assert data == {
        "thing.happened": [
            {
                "event": "thing.happened",
                "payload": {"object": {"id": 7, "from": "http://a/b", "count": "many"}},
            }
        ]
    }
    # "count" is an integer in the schema but "many" in the example: widened to accept both.
    event = model.model_validate(data["thing.happened"][0])
    obj = event.payload.object
    assert (obj.id, obj.from_, obj.count) == (7, "http://a/b", "many")
    hints = {name: str(f.annotation) for name, f in type(obj).model_fields.items()}
    assert hints["id"] == "int | None"  # resolved through the #/paths/... $ref
    assert hints["class_"] == "int | None"  # enum of integers
    assert hints["list_"] == "list[typing.Any] | None"
    assert hints["tags"] == "list[str] | None"
    assert hints["when"] == "str | None"
    assert hints["deep"] == "dict[str, typing.Any] | None"  # beyond --depth 1
    assert model.model_fields["download_token"].annotation == str | None
    # --check notices a stale output; without it the file is rewritten.
    out.write_text(out.read_text() + "\n")
    assert gen.main([*args, "--depth", "1", "--check"]) == 1
    assert gen.main([*args, "--depth", "2"]) == 0
    deeper = load(out, "generated_events_test2")
    hints = {n: str(f.annotation) for n, f in deeper.ThingHappenedObject.model_fields.items()}
    assert "ObjectDeep" in hints["deep"]  # typed one level deeper now


def test_generator_reports_missing_specs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert gen.main([str(tmp_path / "nothing")]) == 2
    assert "no webhook specs" in capsys.readouterr().err


def test_strip_json_comments_keeps_strings() -> None:
    text = '{"url": "http://x//y", "a": 1, // c\n "b": "/* no */", /* yes */ "c": [1,],}'
    assert json.loads(gen.strip_json_comments(text)) == {
        "url": "http://x//y",
        "a": 1,
        "b": "/* no */",
        "c": [1],
    }


def test_import_zoom_async_does_not_import_the_event_models() -> None:
    # They are most of the package's import time; parse_event imports them on first use.
    code = "import sys, zoom_async; print('zoom_async._generated.events' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False"
