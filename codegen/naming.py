"""Python names for Zoom's operations: ``zoom.<namespace>.<method>``.

One scheme, documented for users in ``docs/naming.md``:

1. **Namespace.** The *core* APIs (``[tool.codegen.api] core_apis``: accounts, users, meetings)
   become one top-level namespace per resource, the first segment of the path
   (``/webinars/...`` -> ``zoom.webinars``). Every other API is one top-level namespace named
   after its spec (``phone``, ``team_chat``, ``contact_center``); when it has more than
   ``flat_max`` operations it is split into sub-namespaces by the first path segment after the
   API's home segment (``/phone/call_queues/...`` -> ``zoom.phone.call_queues``).
   A path ``.../users/{userId}/<resource>`` belongs to ``<resource>`` when that is a namespace of
   the same API (``/users/{userId}/meetings`` -> ``zoom.meetings``).
   ``[tool.codegen.api.prefixes]`` maps a path prefix to a namespace (longest prefix wins) and
   ``[tool.codegen.api.renames]`` renames a segment (``report`` -> ``reports``).
2. **Method.** From the HTTP method and what follows the namespace's segment in the path:
   ``GET`` of a collection (paginated, or returning a list) is ``list``, other ``GET`` is
   ``get``, ``POST`` is ``create``, ``PUT``/``PATCH`` is ``update``, ``DELETE`` is ``delete``;
   an operation with a multipart body is ``upload``.
   Literal segments after the resource are appended in snake_case (a segment followed by a
   parameter in singular): ``GET /meetings/{id}/registrants`` -> ``list_registrants``,
   ``DELETE /meetings/{id}/registrants/{rid}`` -> ``delete_registrant``. In a namespace whose
   operations are all ``GET`` (reports, dashboards) the verb is dropped when segments follow:
   ``GET /report/meetings/{id}/participants`` -> ``reports.meeting_participants``.
3. **Collisions** in a namespace are resolved in a fixed order: the operation reached through a
   scope (``/users/{userId}/...``) gets ``_for_<scope>``; then the operationId in snake_case;
   then a number. ``[tool.codegen.api.methods]`` overrides any name (``"METHOD /path" =
   "namespace.method"``); an override that matches nothing is an error.

Everything is deterministic: the same specs and configuration give the same names.
"""

from __future__ import annotations

import keyword
import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

# Python names a generated method or namespace must not take (they are the namespace's own).
RESERVED = frozenset({"operation", "with_raw_response", "client", "mro"})
# A POST whose last segment is one of these is an action, not a creation.
ACTIONS = frozenset(
    {
        "search", "upgrade", "batch", "assign", "unassign", "sync", "export", "import", "move",
        "copy", "merge", "start", "stop", "end", "cancel", "approve", "deny", "reject", "resend",
        "reset", "restore", "transfer", "validate", "verify", "join", "leave", "send", "test",
        "publish", "unpublish", "archive", "unarchive", "enable", "disable", "query", "download",
        "upload", "check", "generate", "refresh", "revoke", "rotate", "invite", "trigger",
        "preview", "convert", "clone", "duplicate", "activate", "deactivate", "submit", "lock",
        "unlock", "pin", "unpin", "execute", "complete", "retry", "hangup", "accept", "decline",
    }
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class NamingConfig:
    """The ``[tool.codegen.api]`` table."""

    core_apis: frozenset[str] = frozenset({"accounts", "users", "meetings"})
    flat_max: int = 20
    api_names: Mapping[str, str] = field(default_factory=dict)
    prefixes: Mapping[str, str] = field(default_factory=dict)
    renames: Mapping[str, str] = field(default_factory=dict)
    methods: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class OpInfo:
    """What naming needs to know about one operation."""

    api: str
    method: str
    path: str
    operation_id: str
    returns_list: bool  # paginated, or a response whose main content is an array
    upload: bool = False  # a multipart/form-data body


def snake(text: str) -> str:
    """``callQueueId`` -> ``call_queue_id``; ``Getzdmgroupinfo`` -> ``getzdmgroupinfo``."""
    text = re.sub(r"[^0-9A-Za-z]+", "_", text)
    text = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", text)
    text = re.sub(r"([A-Z]+)([A-Z][a-z])", r"\1_\2", text)
    return re.sub(r"_+", "_", text).strip("_").lower()


def python_identifier(text: str) -> str:
    """A safe snake_case identifier for ``text``: ``from`` -> ``from_``, ``2fa`` -> ``f_2fa``."""
    name = snake(text) or "value"
    if name[0].isdigit():
        name = "f_" + name
    if keyword.iskeyword(name) or keyword.issoftkeyword(name):
        name += "_"
    return name


def singular(word: str) -> str:
    """A naive English singular, enough for resource names (``queues`` -> ``queue``)."""
    for plural, single in (("ies", "y"), ("sses", "ss"), ("ches", "ch"), ("shes", "sh")):
        if word.endswith(plural) and len(word) > len(plural) + 1:
            return word[: -len(plural)] + single
    if word.endswith("s") and not word.endswith(("ss", "us", "is")) and len(word) > 3:
        return word[:-1]
    return word


def _is_param(seg: str) -> bool:
    return seg.startswith("{") and seg.endswith("}")


def _segments(path: str) -> list[str]:
    return [s for s in path.split("/") if s]


def _prefix_matches(prefix: Sequence[str], segs: Sequence[str]) -> bool:
    if len(prefix) > len(segs):
        return False
    for want, got in zip(prefix, segs, strict=False):
        if want == "{}":
            if not (_is_param(got) or got == "me"):
                return False
        elif want != got:
            return False
    return True


class Namer:
    """Assigns ``namespace.method`` to every operation (see the module docstring)."""

    def __init__(self, ops: Sequence[OpInfo], config: NamingConfig) -> None:
        self.ops = ops
        self.config = config
        self._prefixes = sorted(
            ((_segments(k), v) for k, v in config.prefixes.items()), key=lambda kv: -len(kv[0])
        )
        self.used_prefixes: Counter[str] = Counter()
        by_api: defaultdict[str, list[OpInfo]] = defaultdict(list)
        for op in ops:
            by_api[op.api].append(op)
        self.by_api = by_api
        self.home: dict[str, str] = {}
        self.subs: dict[str, set[str]] = {}
        core_firsts: set[str] = set()
        for api, api_ops in by_api.items():
            firsts = Counter(_segments(op.path)[0] for op in api_ops)
            self.home[api] = firsts.most_common(1)[0][0]
            if api in config.core_apis:
                core_firsts.update(firsts)
            else:
                subs = set()
                for op in api_ops:
                    rest = self._rest(api, _segments(op.path))
                    if rest and not _is_param(rest[0]):
                        subs.add(rest[0])
                self.subs[api] = subs
        self.core_firsts = core_firsts

    def api_namespace(self, api: str) -> str:
        return self.config.api_names.get(api) or python_identifier(api)

    def _rename(self, seg: str) -> str:
        return self.config.renames.get(seg) or python_identifier(seg)

    def _rest(self, api: str, segs: list[str]) -> list[str]:
        return segs[1:] if segs and segs[0] == self.home[api] else segs

    def locate(self, op: OpInfo) -> tuple[str, list[str]]:
        """``(namespace, segments after the namespace's resource)``."""
        segs = _segments(op.path)
        for prefix, namespace in self._prefixes:
            if _prefix_matches(prefix, segs):
                self.used_prefixes["/" + "/".join(prefix)] += 1
                return namespace, segs[len(prefix) :]
        if op.api in self.config.core_apis:
            if (
                len(segs) >= 3
                and segs[0] == "users"
                and (_is_param(segs[1]) or segs[1] == "me")
                and segs[2] in self.core_firsts
            ):
                return self._rename(segs[2]), segs[3:]
            return self._rename(segs[0]), segs[1:]
        top = self.api_namespace(op.api)
        rest = self._rest(op.api, segs)
        if len(self.by_api[op.api]) <= self.config.flat_max or not rest or _is_param(rest[0]):
            return top, rest
        subs = self.subs[op.api]
        if (
            len(rest) >= 3
            and rest[0] == "users"
            and (_is_param(rest[1]) or rest[1] == "me")
            and rest[2] in subs
            and rest[2] != "users"
        ):
            return f"{top}.{self._rename(rest[2])}", rest[3:]
        return f"{top}.{self._rename(rest[0])}", rest[1:]

    @staticmethod
    def verb(op: OpInfo, remainder: Sequence[str]) -> str:
        ends_with_param = bool(remainder) and _is_param(remainder[-1])
        if op.method == "GET":
            return "list" if op.returns_list and not ends_with_param else "get"
        if op.upload:
            return "upload"
        if op.method == "POST":
            return "create"
        if op.method in ("PUT", "PATCH"):
            return "update"
        if op.method == "DELETE":
            return "delete"
        return op.method.lower()

    @staticmethod
    def words(remainder: Sequence[str], singular_last: bool) -> list[str]:
        out: list[str] = []
        for i, seg in enumerate(remainder):
            if _is_param(seg) or seg == "me":
                continue
            word = python_identifier(seg).rstrip("_")
            followed_by_param = i + 1 < len(remainder) and _is_param(remainder[i + 1])
            last = i == len(remainder) - 1
            if followed_by_param or (last and singular_last):
                word = singular(word)
            out.append(word)
        return out

    def base_name(self, op: OpInfo, remainder: Sequence[str], read_only: bool) -> str:
        name = self._base_name(op, remainder, read_only)
        return name + "_" if keyword.iskeyword(name) or keyword.issoftkeyword(name) else name

    def _base_name(self, op: OpInfo, remainder: Sequence[str], read_only: bool) -> str:
        verb = self.verb(op, remainder)
        words = self.words(remainder, singular_last=verb in ("create", "upload"))
        if not words:
            return verb
        if op.method == "POST" and words[-1] in ACTIONS:
            action = words.pop()
            return "_".join([action, *words])
        if read_only:
            return "_".join(words)
        return "_".join([verb, *words])

    def assign(self) -> dict[tuple[str, str, str], str]:
        """``(api, method, path)`` -> ``"namespace.method"`` for every operation."""
        located: dict[tuple[str, str, str], tuple[str, list[str]]] = {}
        by_ns: defaultdict[str, list[OpInfo]] = defaultdict(list)
        for op in self.ops:
            ns, remainder = self.locate(op)
            located[(op.api, op.method, op.path)] = (ns, remainder)
            by_ns[ns].append(op)
        for prefix in self.config.prefixes:
            if self.used_prefixes["/" + "/".join(_segments(prefix))] == 0:
                raise ValueError(f"[tool.codegen.api.prefixes] {prefix!r} matches no path")
        names: dict[tuple[str, str, str], str] = {}
        overrides = dict(self.config.methods)
        used_overrides: set[str] = set()
        for ns, ops in sorted(by_ns.items()):
            read_only = all(op.method == "GET" for op in ops)
            proposed: dict[tuple[str, str, str], str] = {}
            fixed: dict[tuple[str, str, str], str] = {}
            for op in sorted(ops, key=lambda o: (o.path, o.method)):
                key = (op.api, op.method, op.path)
                override = overrides.get(f"{op.method} {op.path}")
                if override is not None:
                    used_overrides.add(f"{op.method} {op.path}")
                    fixed[key] = override
                    continue
                proposed[key] = self.base_name(op, located[key][1], read_only)
            ops_by_key = {(op.api, op.method, op.path): op for op in ops}
            taken = {name.rpartition(".")[2] for name in fixed.values()}
            # A method must not hide a sub-namespace of the same name (zoom.phone.users).
            taken |= {other.rpartition(".")[2] for other in by_ns if other.rpartition(".")[0] == ns}
            resolved = _resolve(proposed, ops_by_key, located, taken)
            for key, method in resolved.items():
                names[key] = f"{ns}.{method}"
            names.update(fixed)
        for key in overrides:
            if key not in used_overrides:
                raise ValueError(f"[tool.codegen.api.methods] {key!r} matches no operation")
        seen: dict[str, tuple[str, str, str]] = {}
        for key, name in names.items():
            if name in seen:
                raise ValueError(f"{name} names both {seen[name]} and {key}")
            seen[name] = key
        return names


def _scope(op: OpInfo, remainder: Sequence[str]) -> str:
    """``for_user`` for ``/users/{userId}/call_logs``: the parameters before the resource."""
    segs = _segments(op.path)
    head = segs[: len(segs) - len(remainder)]
    words = [
        singular(python_identifier(seg).rstrip("_"))
        for i, seg in enumerate(head)
        if not _is_param(seg)
        and i + 1 < len(head)
        and (_is_param(head[i + 1]) or head[i + 1] == "me")
    ]
    return "for_" + "_".join(words) if words else ""


def _resolve(
    proposed: Mapping[tuple[str, str, str], str],
    ops: Mapping[tuple[str, str, str], OpInfo],
    located: Mapping[tuple[str, str, str], tuple[str, list[str]]],
    taken: Iterable[str],
) -> dict[tuple[str, str, str], str]:
    names = dict(proposed)
    taken_set = set(taken)
    for name in list(names.values()):
        if name in RESERVED or name.startswith("_"):
            for key, value in names.items():
                if value == name:
                    names[key] = name + "_"

    def clashes() -> dict[str, list[tuple[str, str, str]]]:
        groups: defaultdict[str, list[tuple[str, str, str]]] = defaultdict(list)
        for key, name in names.items():
            groups[name].append(key)
        return {
            name: sorted(keys)
            for name, keys in groups.items()
            if len(keys) > 1 or name in taken_set
        }

    for step in ("scope", "operation_id", "number"):
        for name, keys in clashes().items():
            if step == "number":
                start = 1 if name not in taken_set else 2
                for i, key in enumerate(keys[start:] if start == 1 else keys, start=2):
                    names[key] = f"{name}_{i}"
                continue
            for key in keys:
                op = ops[key]
                if step == "scope":
                    scope = _scope(op, located[key][1])
                    if scope:
                        names[key] = f"{name}_{scope}"
                else:
                    names[key] = python_identifier(op.operation_id)
    return names
