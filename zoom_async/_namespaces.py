"""What the generated typed methods stand on: namespaces, method descriptors, per-call options.

``zoom.meetings`` is a :class:`Namespace`; ``zoom.meetings.create`` is an :class:`ApiMethod`
(or a :class:`ListMethod` for paginated operations) bound to it. The generated code in
:mod:`zoom_async._generated.api` only declares signatures and maps keyword arguments to path,
query and body; sending goes through :meth:`ZoomClient.request
<zoom_async.ZoomClient.request>` (so the limiter, retries and per-call options apply exactly as
for ``zoom.get``), and paginated methods return the same :class:`~zoom_async.Paginator` as
:meth:`ZoomClient.paginate <zoom_async.ZoomClient.paginate>`.

Response models are imported on the first call that needs them, not when the namespace is
first touched, so ``import zoom_async`` and ``zoom.meetings`` stay fast.
"""

from __future__ import annotations

import copy
import importlib
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from datetime import date, datetime
from enum import Enum
from typing import (
    IO,
    TYPE_CHECKING,
    Any,
    Concatenate,
    Generic,
    ParamSpec,
    TypedDict,
    TypeVar,
    overload,
)

from . import catalog
from .errors import ConfigurationError

if TYPE_CHECKING:
    import httpx

    from ._client import ZoomClient
    from .limits import Priority
    from .pagination import Checkpoint, PaginationMode, Paginator
    from .progress import ProgressCallback
    from .retries import RetryPolicy

__all__ = [
    "ApiMethod",
    "FileContent",
    "ListMethod",
    "Namespace",
    "PageOptions",
    "RequestOptions",
]

P = ParamSpec("P")
R = TypeVar("R")
T = TypeVar("T")

FileContent = bytes | IO[bytes] | tuple[str, bytes | IO[bytes]] | tuple[str, bytes | IO[bytes], str]
"""A file for a multipart upload: its bytes, a binary file object, ``(filename, content)`` or
``(filename, content, content_type)``."""


class _CallOptions(TypedDict, total=False):
    headers: Mapping[str, str]
    """Extra HTTP headers for this request."""
    extra_query: Mapping[str, Any]
    """Query parameters the spec does not (yet) list; sent as given."""


class RequestOptions(_CallOptions, total=False):
    """Per-call options every typed method accepts after its own arguments: those of
    :meth:`ZoomClient.request <zoom_async.ZoomClient.request>`, plus ``extra_query`` and
    ``extra_body`` for what the spec does not list yet."""

    extra_body: Mapping[str, Any]
    """JSON body fields the spec does not (yet) list; merged into the body."""
    timeout: float | httpx.Timeout
    retry: RetryPolicy
    max_retries: int
    priority: Priority


class PageOptions(_CallOptions, total=False):
    """Options of paginated methods: those of :meth:`ZoomClient.paginate
    <zoom_async.ZoomClient.paginate>`."""

    mode: PaginationMode
    prefetch: int
    concurrency: int
    checkpoint: Checkpoint
    token_max_age: float | None
    progress: ProgressCallback


_PAGE_OPTIONS = ("mode", "prefetch", "concurrency", "checkpoint", "token_max_age", "progress")
_SEND_OPTIONS = ("timeout", "retry", "max_retries", "priority")


def _query_value(value: Any) -> Any:
    if isinstance(value, Enum):
        value = value.value
    if isinstance(value, datetime):
        text = value.isoformat()
        return text[:-6] + "Z" if text.endswith("+00:00") else text
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, list | tuple):
        return ",".join(str(_query_value(v)) for v in value)
    return value


def _json_value(value: Any) -> Any:
    """``value`` as JSON data: models dumped by alias (unset fields left out), dates as text."""
    dump = getattr(value, "model_dump", None)
    if dump is not None:
        return dump(mode="json", by_alias=True, exclude_unset=True)
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, datetime | date):
        return _query_value(value)
    if isinstance(value, Mapping):
        return {k: _json_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_value(v) for v in value]
    return value


class Namespace:
    """A group of typed methods: ``zoom.meetings``, ``zoom.phone.call_queues``..."""

    _models_module: str = ""
    """The generated module holding this namespace's response models (imported on first use)."""

    def __init__(self, client: ZoomClient) -> None:
        self._client = client
        self._raw = False

    def __repr__(self) -> str:
        return f"<{type(self).__name__} namespace of {self._client!r}>"

    def _raw_view(self) -> Namespace:
        view = copy.copy(self)
        view._raw = True
        return view

    def _model(self, name: str | None) -> Any:
        if name is None:
            return None
        module = importlib.import_module(self._models_module)
        return getattr(module, name)

    def _parse(self, model: str | None, data: Any) -> Any:
        cls = self._model(model)
        if cls is None or data is None:
            return data
        if isinstance(data, list):
            return [cls.model_validate(item) for item in data]
        return cls.model_validate(data)

    async def _request(
        self,
        python_name: str,
        *,
        path: Mapping[str, Any],
        query: Mapping[str, Any] | None = None,
        body: Mapping[str, Any] | None = None,
        json_body: Any = None,
        files: Mapping[str, Any] | None = None,
        form: Mapping[str, Any] | None = None,
        model: str | None = None,
        binary: bool = False,
        options: Mapping[str, Any],
    ) -> Any:
        """Send one operation; the parsed model, the raw response, or bytes for downloads."""
        op = catalog.by_python_name(python_name)
        client = self._client
        kwargs: dict[str, Any] = {k: options[k] for k in _SEND_OPTIONS if k in options}
        kwargs.update(
            params=_query(query, options),
            headers=options.get("headers"),
            path_params=_path_params(op, path),
        )
        if files is not None or form is not None:
            kwargs["files"] = {k: v for k, v in (files or {}).items() if v is not None} or None
            kwargs["data"] = {
                k: _form_value(v) for k, v in (form or {}).items() if v is not None
            } or None
        else:
            kwargs["json"] = _body(body, json_body, options)
        kwargs["operation"] = op
        if self._raw:
            return await client.send(op.method, op.path, **kwargs)
        if binary:
            response = await client.send(op.method, op.path, **kwargs)
            return response.content
        return self._parse(model, await client.request(op.method, op.path, **kwargs))

    def _paginate(
        self,
        python_name: str,
        *,
        path: Mapping[str, Any],
        query: Mapping[str, Any] | None = None,
        page_size: int | None = None,
        item_model: str | None = None,
        options: Mapping[str, Any],
    ) -> Any:
        """A :class:`~zoom_async.Paginator` over the operation's items, typed by ``item_model``."""
        from .pagination import Paginator

        op = catalog.by_python_name(python_name)
        params = _query(query, options) or {}
        kwargs = {k: options[k] for k in _PAGE_OPTIONS if k in options}
        parse = None
        if item_model is not None and not self._raw:
            cls = self._model(item_model)
            parse = cls.model_validate
        return Paginator(
            self._client,
            op.path,
            params=params,
            path_params=_path_params(op, path),
            page_size=page_size,  # None: the Paginator's default, or the one params carry
            list_key=op.list_key,
            headers=options.get("headers"),
            item_parser=parse,
            operation=op,
            **kwargs,
        )


def _path_params(op: catalog.Operation, path: Mapping[str, Any]) -> dict[str, str | int]:
    out: dict[str, str | int] = {}
    for name, value in path.items():
        if value is None or value == "":
            raise ConfigurationError(f"{op.python_name}: path parameter {name!r} is empty")
        out[name] = value if isinstance(value, int) and not isinstance(value, bool) else str(value)
    return out


def _query(query: Mapping[str, Any] | None, options: Mapping[str, Any]) -> dict[str, Any] | None:
    extra = options.get("extra_query")
    if not query and not extra:
        return None
    out = {k: _query_value(v) for k, v in (query or {}).items() if v is not None}
    out.update(extra or {})
    return out


def _body(body: Mapping[str, Any] | None, json_body: Any, options: Mapping[str, Any]) -> Any:
    extra = options.get("extra_body")
    if json_body is not None:
        data = _json_value(json_body)
        if extra and isinstance(data, dict):
            data.update(extra)
        return data
    if body is None and not extra:
        return None
    out = {k: _json_value(v) for k, v in (body or {}).items() if v is not None}
    out.update(extra or {})
    return out


def _form_value(value: Any) -> Any:
    value = _json_value(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict | list):
        import json

        return json.dumps(value)
    return value if isinstance(value, str | bytes) else str(value)


class _TypedMethod:
    """What :class:`ApiMethod` and :class:`ListMethod` share: the generated function, its
    operation's dotted name and the names of its models."""

    def __init__(self, python_name: str, fn: Callable[..., Any], model: str | None) -> None:
        self.python_name = python_name
        self.model_name = model
        """The name of the response model class (in the namespace's models module); for a
        :class:`ListMethod`, the model of a whole page."""
        self.__doc__ = fn.__doc__
        self.__name__ = fn.__name__
        self.__wrapped__ = fn

    @property
    def operation(self) -> catalog.Operation:
        """The operation this method sends (from :mod:`zoom_async.catalog`)."""
        return catalog.by_python_name(self.python_name)


_M = TypeVar("_M", bound=_TypedMethod)


class _BoundMethod(Generic[_M]):
    """What the bound forms share: the method, the namespace it was read from."""

    __slots__ = ("_method", "_namespace")

    def __init__(self, method: _M, namespace: Namespace) -> None:
        self._method = method
        self._namespace = namespace

    @property
    def operation(self) -> catalog.Operation:
        """The operation this method sends (from :mod:`zoom_async.catalog`)."""
        return self._method.operation

    def __repr__(self) -> str:
        return f"<typed method zoom.{self._method.python_name}>"


class ApiMethod(_TypedMethod, Generic[P, R]):
    """A typed method of a namespace: ``await zoom.meetings.get(meeting_id=...)``.

    Bound to a namespace it also offers :attr:`operation` (the catalog entry, e.g.
    ``zoom.meetings.create.operation.category``) and :meth:`with_raw_response` (the
    :class:`httpx.Response` instead of the parsed model).
    """

    def __init__(
        self,
        python_name: str,
        fn: Callable[Concatenate[Any, P], Awaitable[R]],
        model: str | None = None,
    ) -> None:
        super().__init__(python_name, fn, model)
        self._fn = fn

    @overload
    def __get__(self, obj: None, owner: type[Any]) -> ApiMethod[P, R]: ...
    @overload
    def __get__(self, obj: Namespace, owner: type[Any]) -> BoundApiMethod[P, R]: ...
    def __get__(
        self, obj: Namespace | None, owner: type[Any]
    ) -> ApiMethod[P, R] | BoundApiMethod[P, R]:
        if obj is None:
            return self
        return BoundApiMethod(self, obj)


class BoundApiMethod(_BoundMethod["ApiMethod[P, R]"], Generic[P, R]):
    """An :class:`ApiMethod` of one client's namespace."""

    __slots__ = ()

    # Here, not in the base: a class docstring would shadow a property inherited.
    @property
    def __doc__(self) -> str | None:  # type: ignore[override]
        return self._method.__doc__

    def __call__(self, *args: P.args, **kwargs: P.kwargs) -> Awaitable[R]:
        return self._method._fn(self._namespace, *args, **kwargs)

    def with_raw_response(
        self, *args: P.args, **kwargs: P.kwargs
    ) -> Coroutine[Any, Any, httpx.Response]:
        """Send the same request; return the :class:`httpx.Response` (``.json()`` for the raw
        body) instead of the parsed model."""
        result: Any = self._method._fn(self._namespace._raw_view(), *args, **kwargs)
        return result  # type: ignore[no-any-return]


class ListMethod(_TypedMethod, Generic[P, T]):
    """A typed paginated method: returns a :class:`~zoom_async.Paginator` of typed items.

    ``await zoom.meetings.list(user_id="me")`` is the first page, ``async for`` iterates every
    item (as models), ``.pages()`` every page. :meth:`with_raw_response` gives the same
    paginator with plain ``dict`` items.
    """

    def __init__(
        self,
        python_name: str,
        fn: Callable[Concatenate[Any, P], Paginator[T]],
        model: str | None = None,
        item_model: str | None = None,
    ) -> None:
        super().__init__(python_name, fn, model)
        self._fn = fn
        self.item_model_name = item_model
        """The name of the model of one item."""

    @overload
    def __get__(self, obj: None, owner: type[Any]) -> ListMethod[P, T]: ...
    @overload
    def __get__(self, obj: Namespace, owner: type[Any]) -> BoundListMethod[P, T]: ...
    def __get__(
        self, obj: Namespace | None, owner: type[Any]
    ) -> ListMethod[P, T] | BoundListMethod[P, T]:
        if obj is None:
            return self
        return BoundListMethod(self, obj)


class BoundListMethod(_BoundMethod["ListMethod[P, T]"], Generic[P, T]):
    """A :class:`ListMethod` of one client's namespace."""

    __slots__ = ()

    # Here, not in the base: a class docstring would shadow a property inherited.
    @property
    def __doc__(self) -> str | None:  # type: ignore[override]
        return self._method.__doc__

    def __call__(self, *args: P.args, **kwargs: P.kwargs) -> Paginator[T]:
        return self._method._fn(self._namespace, *args, **kwargs)

    def with_raw_response(self, *args: P.args, **kwargs: P.kwargs) -> Paginator[dict[str, Any]]:
        """The same listing with the items as Zoom sent them (plain ``dict``)."""
        result: Any = self._method._fn(self._namespace._raw_view(), *args, **kwargs)
        return result  # type: ignore[no-any-return]


def api_method(
    python_name: str, *, model: str | None = None
) -> Callable[[Callable[Concatenate[Any, P], Awaitable[R]]], ApiMethod[P, R]]:
    """Declare a generated method (decorator)."""

    def wrap(fn: Callable[Concatenate[Any, P], Awaitable[R]]) -> ApiMethod[P, R]:
        return ApiMethod(python_name, fn, model)

    return wrap


def list_method(
    python_name: str, *, model: str | None = None, item_model: str | None = None
) -> Callable[[Callable[Concatenate[Any, P], Paginator[T]]], ListMethod[P, T]]:
    """Declare a generated paginated method (decorator)."""

    def wrap(fn: Callable[Concatenate[Any, P], Paginator[T]]) -> ListMethod[P, T]:
        return ListMethod(python_name, fn, model, item_model)

    return wrap


def method_for(python_name: str) -> ApiMethod[Any, Any] | ListMethod[Any, Any]:
    """The typed method (unbound) of an operation: ``method_for("meetings.create")``.

    Imports the namespace's module. With :func:`response_model` this is how tools (FakeZoom, the
    CLI) go from a :class:`~zoom_async.catalog.Operation` to its types.
    """
    from ._generated.api import NAMESPACES

    namespace, _, name = python_name.rpartition(".")
    module = importlib.import_module(NAMESPACES[namespace])
    cls = next(
        value
        for value in vars(module).values()
        if isinstance(value, type)
        and issubclass(value, Namespace)
        and value is not Namespace
        and value.__module__ == module.__name__
    )
    method = cls.__dict__[name]
    if not isinstance(method, ApiMethod | ListMethod):
        raise KeyError(python_name)
    return method


def response_model(python_name: str, *, item: bool = False) -> type[Any] | None:
    """The model class of an operation's response (``item=True``: of one listed item), or
    ``None`` when the response has no JSON object body."""
    from ._generated.api import NAMESPACES

    method = method_for(python_name)
    name = method.item_model_name if item and isinstance(method, ListMethod) else method.model_name
    if item and not isinstance(method, ListMethod):
        name = None
    if name is None:
        return None
    namespace = python_name.rpartition(".")[0]
    models = NAMESPACES[namespace].replace("._generated.api.", "._generated.models.", 1)
    return getattr(importlib.import_module(models), name)  # type: ignore[no-any-return]
