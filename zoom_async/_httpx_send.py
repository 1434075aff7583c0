"""``httpx.AsyncClient.send(request, stream=True)`` without the layers a plain request skips.

For every request httpx's ``send`` walks four layers: ``send`` builds the request's auth
(``Auth()``, which does nothing, when the client has none), ``_send_handling_auth`` drives that
auth's async generator (started, sent the answer, closed), ``_send_handling_redirects`` runs
the event hooks and checks for a redirect, and ``_send_single_request`` hands the request to
the transport. When the client has no auth, no event hooks and does not follow redirects, and
the URL carries no user name, the first three do nothing but cost a generator and two
coroutines a request. :func:`send_streaming` then does what ``_send_single_request`` and the
outer layers do for such a request (the transport httpx picks for the URL, proxies and
respx's mocks included; ``elapsed``; the request on errors; cookies; the log line; a
redirect's ``next_request``), in the same order, and anything else goes through ``send``.

It leans on private parts of httpx 0.28-0.29 (the client's state, auth, hooks and transport
look-up, ``BoundAsyncStream``; 0.29.0 changed only messages and an export from 0.28.1): on
another httpx release, or a client class that overrides
any of ``send``'s layers (or has one patched, on its class or on itself), every request goes
through ``send``.
"""

from __future__ import annotations

import logging
import time

import httpx

try:
    from httpx._client import BoundAsyncStream, ClientState
    from httpx._client import logger as _logger
except ImportError:  # another httpx layout: send() only
    _FITS = False
else:
    _FITS = httpx.__version__.startswith(("0.28.", "0.29."))

_LAYERS = ("send", "_send_handling_auth", "_send_handling_redirects", "_send_single_request")
_HTTPX_OWN = tuple(getattr(httpx.AsyncClient, name, None) for name in _LAYERS)
_FITS = _FITS and None not in _HTTPX_OWN


def _own_layers(http: httpx.AsyncClient) -> bool:
    """Whether ``http`` sends through httpx's own ``send`` and the layers under it: not a
    subclass's, nor one patched on the class or on this client (``mock.patch.object(
    zoom.http, "send")`` in an application's tests, a tracing wrapper) after import."""
    cls = type(http)
    own = http.__dict__
    for name, function in zip(_LAYERS, _HTTPX_OWN, strict=True):
        if getattr(cls, name, None) is not function or name in own:
            return False
    return True


def takes_the_short_way(http: httpx.AsyncClient, request: httpx.Request) -> bool:
    """Whether :func:`send_streaming` sends ``request`` itself rather than through ``send``."""
    if not _FITS or not _own_layers(http):
        return False  # (nothing below is read on an httpx release not checked)
    hooks = http._event_hooks
    return (
        http._auth is None
        and not http.follow_redirects
        and not hooks["request"]
        and not hooks["response"]
        and http._state is not ClientState.CLOSED
        and not request.url.userinfo  # httpx would make a BasicAuth of it
    )


async def send_streaming(http: httpx.AsyncClient, request: httpx.Request) -> httpx.Response:
    """``await http.send(request, stream=True)``, the same answer and the same errors."""
    if not takes_the_short_way(http, request):
        return await http.send(request, stream=True)
    # send():
    http._state = ClientState.OPENED
    http._set_timeout(request)
    # _send_single_request() (the auth and redirect layers have nothing to do on the way in):
    transport = http._transport_for_url(request.url)
    start = time.perf_counter()
    if not isinstance(request.stream, httpx.AsyncByteStream):
        raise RuntimeError("Attempted to send a sync request with an AsyncClient instance.")
    try:
        response = await transport.handle_async_request(request)
    except httpx.RequestError as exc:  # httpx's request_context()
        exc.request = request
        raise exc
    assert isinstance(response.stream, httpx.AsyncByteStream)
    response.request = request
    response.stream = BoundAsyncStream(response.stream, response=response, start=start)
    http.cookies.extract_cookies(response)
    response.default_encoding = http._default_encoding
    if _logger.isEnabledFor(logging.INFO):  # (httpx computes the arguments regardless)
        _logger.info(
            'HTTP Request: %s %s "%s %d %s"',
            request.method,
            request.url,
            response.http_version,
            response.status_code,
            response.reason_phrase,
        )
    # _send_handling_redirects(), not following them; Auth() takes the answer as it is.
    if response.has_redirect_location:
        try:
            response.next_request = http._build_redirect_request(request, response)
        except BaseException:
            await response.aclose()
            raise
    return response
