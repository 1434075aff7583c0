"""An in-process fake of the Zoom REST API, for testing apps built on zoom-async (or anything
else that speaks HTTP to Zoom).

:class:`FakeZoom` is an ASGI app with Zoom's OAuth token endpoint, a simulated account (users,
meetings, reports, dashboards, past-meeting participants...), every other operation of Zoom's
catalog answering as its OpenAPI spec says (status, and a body built from the response schema),
requests validated against the spec, and Zoom's rate limits enforced strictly, with the exact
429s of Zoom's rate-limit page. Use it in-process through :meth:`FakeZoom.transport` or on a
real port with :meth:`FakeZoom.serve`. See ``docs/testing.md``.

Needs the ``testing`` extra (``pip install zoom-async[testing]``: Starlette, uvicorn,
jsonschema).
"""

# The packages of the ``testing`` extra: without them, say which extra to install instead of
# a bare "No module named 'starlette'".
_EXTRA_MODULES = frozenset({"starlette", "uvicorn", "httptools", "jsonschema"})

try:
    from ._custom import FakeRequest, FakeResponse
    from ._fake import FakeZoom, Latency
    from ._faults import Fault
    from ._ratelimits import Neighbour
    from ._server import FakeZoomServer
    from ._stats import FakeZoomStats, RequestRecord
    from ._transport import ConnectionDropped, FakeZoomTransport
    from ._webhook_sender import Delivery, Subscription, WebhookValidationFailed
except ModuleNotFoundError as _exc:
    _missing = (_exc.name or "").split(".")[0]
    if _missing not in _EXTRA_MODULES:
        raise
    raise ModuleNotFoundError(
        f"zoom_async.testing needs the 'testing' extra ({_missing} is not installed): "
        "pip install 'zoom-async[testing]'",
        name=_missing,
    ) from _exc

__all__ = [
    "ConnectionDropped",
    "Delivery",
    "FakeRequest",
    "FakeResponse",
    "FakeZoom",
    "FakeZoomServer",
    "FakeZoomStats",
    "FakeZoomTransport",
    "Fault",
    "Latency",
    "Neighbour",
    "RequestRecord",
    "Subscription",
    "WebhookValidationFailed",
]
