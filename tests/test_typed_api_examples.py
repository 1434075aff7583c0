"""Every example in Zoom's specs round-trips through the typed API.

* Responses: each operation's example body (assembled from the spec's ``example`` values)
  validates into its generated model and dumps back to the same JSON.
* Requests: each JSON-body operation called through its typed method with the example's fields
  as keyword arguments sends exactly the example as its body.
"""

from __future__ import annotations

import importlib
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from codegen import api as gen  # noqa: E402
from codegen import catalog as catalog_gen  # noqa: E402
from zoom_async import StaticToken, ZoomClient  # noqa: E402

SPECS = catalog_gen.load_config().specs
pytestmark = pytest.mark.skipif(
    not (SPECS / "endpoints").is_dir(), reason=f"Zoom's specs not found at {SPECS}"
)

UNLIMITED = {
    "base": "business_plus",
    "Light": 10_000_000,
    "Medium": 10_000_000,
    "Heavy": 10_000_000,
    "Resource-intensive": 10_000_000,
}


@pytest.fixture(scope="module")
def builder() -> gen.Builder:
    built = gen.Builder(catalog_gen.load_config())
    built.build()
    return built


def _methods(builder: gen.Builder) -> Iterator[tuple[gen.NamespaceDef, gen.Method]]:
    for ns in builder.namespaces.values():
        for method in ns.methods:
            yield ns, method


def _norm(value: Any) -> Any:
    """JSON with scalars as text: the models accept numbers for strings and text for numbers."""
    if isinstance(value, dict):
        return {k: _norm(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_norm(v) for v in value]
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, int | float):
        return str(value)
    return value


def test_every_response_example_round_trips_through_its_model(builder: gen.Builder) -> None:
    checked = 0
    for ns, method in _methods(builder):
        examples = ns.examples.get(f"{method.name}:response", [])
        if not examples or method.response_model is None:
            continue
        module = importlib.import_module(f"zoom_async._generated.models.{ns.path}")
        model = getattr(module, method.response_model)
        for example in examples:
            items = example if isinstance(example, list) else [example]
            for item in items:
                parsed = model.model_validate(item)
                dumped = parsed.model_dump(mode="json", by_alias=True, exclude_unset=True)
                assert _norm(dumped) == _norm(item), method.row.python_name
                checked += 1
    print("response examples checked:", checked)
    assert checked > 1000


def test_responses_with_fields_zoom_adds_tomorrow_still_parse(builder: gen.Builder) -> None:
    ns = builder.namespaces["meetings"]
    module = importlib.import_module("zoom_async._generated.models.meetings")
    example = ns.examples["get:response"][0]
    changed = {**example, "brand_new": {"a": [1]}, "settings": {"new_setting": True}}
    parsed = module.MeetingsGetResponse.model_validate(changed)
    assert parsed.model_extra == {"brand_new": {"a": [1]}}
    assert parsed.settings is not None and parsed.settings.model_extra == {"new_setting": True}


async def test_every_request_example_is_sent_as_the_body(builder: gen.Builder) -> None:
    bodies: list[Any] = []

    def handler(request: httpx.Request) -> httpx.Response:
        bodies.append(json.loads(request.content) if request.content else None)
        return httpx.Response(204)

    checked, skipped = 0, []
    async with ZoomClient(
        auth=StaticToken("token"),
        transport=httpx.MockTransport(handler),
        plan=UNLIMITED,
        lookup_meeting_hosts=False,
        serialize_mutations=False,
    ) as zoom:
        for ns, method in _methods(builder):
            examples = ns.examples.get(f"{method.name}:request", [])
            if not examples or method.kind == "upload":
                continue
            example = examples[0]
            kwargs: dict[str, Any] = {}
            for param in method.params:
                if param.location == "path":
                    kwargs[param.py] = "x1"
                elif param.location == "query" and param.required:
                    kwargs[param.py] = "2026-11-01" if "date" in param.annotation else "x"
                elif param.location == "whole":
                    kwargs[param.py] = example
                elif param.location == "body" and param.wire in example:
                    kwargs[param.py] = example[param.wire]
            missing = [
                p.wire
                for p in method.params
                if p.location == "body" and p.required and p.wire not in example
            ]
            if missing or (method.body_mode == "fields" and not isinstance(example, dict)):
                skipped.append(method.row.python_name)
                continue
            target: Any = zoom
            for part in method.row.python_name.split("."):
                target = getattr(target, part)
            await target(**kwargs)
            sent = bodies.pop()
            expected = example
            if method.body_mode == "fields":
                known = {p.wire for p in method.params if p.location == "body"}
                expected = {k: v for k, v in example.items() if k in known}
            assert sent == expected, method.row.python_name
            checked += 1
    print("request examples checked:", checked, "skipped:", len(skipped))
    assert checked > 450
    assert len(skipped) < 25, skipped
