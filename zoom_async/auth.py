"""Authentication: server-to-server OAuth and user OAuth (authorization code + PKCE).

A :class:`TokenSource` gives the client a bearer token and is told when Zoom rejected one.
:class:`ServerToServerAuth` fetches account tokens with ``grant_type=account_credentials``;
:class:`UserOAuth` runs the authorization-code flow for apps that act for many users and keeps
their tokens in a pluggable :class:`TokenStore`.

Tokens are cached and renewed *before* they expire; concurrent callers on a cold cache share one
token request (single flight). No secret or token ever appears in a ``repr``, a log line or an
exception message.

Example (server-to-server)::

    auth = ServerToServerAuth(account_id="...", client_id="...", client_secret="...")
    async with ZoomClient(auth=auth) as zoom: ...

Example (user OAuth in a web app)::

    oauth = UserOAuth(client_id, client_secret, redirect_uri="https://app.example/zoom/callback")
    request = oauth.authorization_url()           # redirect the user to request.url
    ...                                           # keep request.state and request.code_verifier
    await oauth.exchange_code(code, user_key="alice", code_verifier=request.code_verifier)
    async with ZoomClient(auth=oauth.for_user("alice")) as zoom:
        me = await zoom.get("/users/me")
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import logging
import math
import re
import secrets
from collections.abc import AsyncIterator, Mapping
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any, Protocol, runtime_checkable
from urllib.parse import urlencode

import anyio
import httpx

from ._decoding import excerpt, loads, read_at_most
from ._version import USER_AGENT
from .clock import Clock, SystemClock
from .errors import (
    AuthError,
    ConfigurationError,
    LimiterUnavailable,
    ZoomConnectionError,
    ZoomTimeoutError,
)

__all__ = [
    "DEFAULT_AUTHORIZE_URL",
    "DEFAULT_TOKEN_URL",
    "AuthorizationRequest",
    "InMemoryTokenStore",
    "LockingTokenStore",
    "OAuthToken",
    "ServerToServerAuth",
    "SharedTokens",
    "StaticToken",
    "TokenSource",
    "TokenStore",
    "UserOAuth",
    "UserTokenSource",
]

DEFAULT_TOKEN_URL = "https://zoom.us/oauth/token"
DEFAULT_AUTHORIZE_URL = "https://zoom.us/oauth/authorize"

logger = logging.getLogger("zoom_async.auth")


@dataclass(frozen=True, slots=True)
class OAuthToken:
    """An access token with its expiry and, for user OAuth, its refresh token.

    ``repr`` never shows the token values.
    """

    access_token: str = field(repr=False)
    expires_at: datetime
    refresh_token: str | None = field(default=None, repr=False)
    scope: str | None = None
    token_type: str = "bearer"

    def expires_within(self, now: datetime, seconds: float) -> bool:
        """Whether the token expires within ``seconds`` of ``now``."""
        return self.expires_at - now <= timedelta(seconds=seconds)

    @classmethod
    def from_response(cls, data: Mapping[str, Any], now: datetime) -> OAuthToken:
        """Build from Zoom's token endpoint JSON (``access_token``, ``expires_in``...).

        Raises :class:`~zoom_async.errors.AuthError` (``step="token"``) when the answer holds
        no usable token: ``access_token`` missing, empty, not a string, or with characters a
        header cannot carry; ``expires_in`` not a finite positive number (it is clamped to
        at most a day); ``refresh_token`` not a string.
        """
        problem = _token_problem(data)
        if problem is not None:
            raise AuthError(
                f"Zoom's token endpoint answered with an unusable token: {problem}",
                step="token",
            )
        return cls._from_checked(data, now)

    @classmethod
    def _from_checked(cls, data: Mapping[str, Any], now: datetime) -> OAuthToken:
        """Build from an answer :func:`_token_problem` found nothing wrong with."""
        lifetime = min(float(data.get("expires_in", _DEFAULT_LIFETIME)), _MAX_LIFETIME)
        scope = data.get("scope")
        token_type = data.get("token_type")
        return cls(
            access_token=data["access_token"],
            expires_at=now + timedelta(seconds=lifetime),
            refresh_token=data.get("refresh_token") or None,
            scope=scope if isinstance(scope, str) else None,
            token_type=token_type if isinstance(token_type, str) and token_type else "bearer",
        )


_DEFAULT_LIFETIME = 3599.0
_MAX_LIFETIME = 86_400.0
# What RFC 6750 allows in a bearer token (b64token), with room for the JWTs Zoom sends.
_TOKEN_CHARS = re.compile(r"^[A-Za-z0-9\-._~+/]+=*$")


def _token_problem(data: Mapping[str, Any]) -> str | None:
    """What is wrong with a token answer (never quoting the token), or ``None``."""
    token = data.get("access_token")
    if not isinstance(token, str):
        return f"access_token is {'missing' if token is None else type(token).__name__}"
    if not token:
        return "access_token is empty"
    if len(token) > 16_384 or not _TOKEN_CHARS.match(token):
        return "access_token has characters a bearer token cannot have"
    if "expires_in" in data:
        lifetime = data["expires_in"]
        if isinstance(lifetime, bool) or not isinstance(lifetime, int | float):
            return f"expires_in is {type(lifetime).__name__}, not a number of seconds"
        if not math.isfinite(lifetime) or lifetime <= 0:
            return f"expires_in is {lifetime!r}, not a positive number of seconds"
    refresh = data.get("refresh_token")
    if refresh is not None and not isinstance(refresh, str):
        return f"refresh_token is {type(refresh).__name__}, not a string"
    return None


@runtime_checkable
class TokenSource(Protocol):
    """Gives the client bearer tokens."""

    async def get_token(self, http: httpx.AsyncClient) -> str:
        """A valid access token, fetching or refreshing one if needed."""
        ...

    async def invalidate(self, token: str) -> None:
        """Zoom answered 401 to ``token``: forget it so the next call gets a new one."""
        ...


@runtime_checkable
class SharedTokens(Protocol):
    """Where processes of one app share access tokens (:class:`~zoom_async.RedisStore`).

    With it, :class:`ServerToServerAuth` asks the shared cache before Zoom, and only one
    process at a time (holding :meth:`token_lock`) asks Zoom for a new token, so a cold start of
    8 workers makes one token request.
    """

    async def load_token(self, key: str) -> tuple[OAuthToken, float] | None:
        """The token saved under ``key`` and the seconds it stays fresh, if it still is."""
        ...

    async def save_token(self, key: str, token: OAuthToken, fresh_for: float) -> None:
        """Save ``token`` under ``key`` for ``fresh_for`` seconds (then it is renewed)."""
        ...

    async def drop_token(self, key: str, access_token: str) -> None:
        """Forget the token under ``key`` if it is still ``access_token`` (Zoom rejected it)."""
        ...

    def token_lock(self, key: str) -> AbstractAsyncContextManager[None]:
        """Held by the one process that asks Zoom for a new token for ``key``."""
        ...


class StaticToken:
    """A fixed access token (for scripts and tests). It cannot be renewed."""

    def __init__(self, access_token: str) -> None:
        problem = _token_problem({"access_token": access_token})
        if problem is not None:
            raise ConfigurationError(f"StaticToken: {problem}")
        self._token = access_token

    async def get_token(self, http: httpx.AsyncClient) -> str:
        """The token given at construction."""
        return self._token

    async def invalidate(self, token: str) -> None:
        """Nothing to renew; the following 401 surfaces as :class:`AuthError`."""

    def __repr__(self) -> str:
        return "StaticToken(access_token=<redacted>)"


def _describe_token_error(response: httpx.Response) -> str:
    try:
        data = loads(response.content)
    except ValueError:
        return f"HTTP {response.status_code} with a non-JSON body"
    if isinstance(data, dict):
        reason = data.get("reason") or data.get("message") or data.get("error_description")
        error = data.get("error") or data.get("code")
        if reason and error:
            return excerpt(f"{reason} ({error})")
        if reason or error:
            return excerpt(str(reason or error))
    return f"HTTP {response.status_code}"


_TOKEN_ANSWER_LIMIT = 64 * 1024
# A token answer is a few hundred bytes (a JWT and its lifetime); more is not read.


class _TokenAnswerTooLarge(Exception):
    pass


class _TokenDeadline(httpx.ReadTimeout):
    """The token request as a whole (connect, send, the full answer) outlived its timeout."""


def _whole_timeout(timeout: httpx.Timeout) -> float:
    phases = [timeout.pool, timeout.connect, timeout.write, timeout.read]
    known = [p for p in phases if p is not None]
    return max(known) if len(known) == len(phases) else math.inf


async def _token_answer(http: httpx.AsyncClient, url: str, **kwargs: Any) -> httpx.Response:
    """POST to the token endpoint and read the answer, bounded in size and in time as a whole
    (httpx's timeouts bound each read, so a body dripping slowly would never end)."""
    with anyio.move_on_after(_whole_timeout(http.timeout)):
        async with http.stream("POST", url, **kwargs) as response:
            body, more = await read_at_most(response, _TOKEN_ANSWER_LIMIT)
            if more:
                raise _TokenAnswerTooLarge
            response._content = body  # what Response.aread() does, bounded
            return response
    raise _TokenDeadline("no complete answer within the timeout")


async def _post_token(
    http: httpx.AsyncClient,
    token_url: str,
    *,
    client_id: str,
    client_secret: str,
    form: Mapping[str, str],
    step: str,
    hint: str,
    clock: Clock,
) -> OAuthToken:
    """POST to the OAuth token endpoint and return the token it answered, or raise a typed error.

    Asking for a token has no side effect at Zoom, so transport errors and 5xx are retried a
    couple of times here.
    """
    attempts = 3
    for attempt in range(attempts):
        try:
            response = await _token_answer(
                http,
                token_url,
                data=dict(form),
                auth=httpx.BasicAuth(client_id, client_secret),
                headers={"Accept": "application/json"},
            )
        except _TokenAnswerTooLarge:
            raise AuthError(
                f"Zoom's token endpoint answered the {step} request with more than "
                f"{_TOKEN_ANSWER_LIMIT // 1024} KiB; that is no token answer",
                step=step,
                method="POST",
                url=token_url,
            ) from None
        except httpx.TimeoutException as exc:
            if attempt + 1 < attempts:
                await anyio.sleep(0.2 * 2**attempt)
                continue
            raise ZoomTimeoutError(
                f"timed out asking Zoom's token endpoint ({step}): {type(exc).__name__}",
                method="POST",
                url=token_url,
            ) from None
        except httpx.TransportError as exc:
            if attempt + 1 < attempts:
                await anyio.sleep(0.2 * 2**attempt)
                continue
            raise ZoomConnectionError(
                f"could not reach Zoom's token endpoint ({step}): {type(exc).__name__}",
                method="POST",
                url=token_url,
            ) from None
        if response.status_code >= 500 and attempt + 1 < attempts:
            await anyio.sleep(0.2 * 2**attempt)
            continue
        if response.status_code != 200:
            raise AuthError(
                f"Zoom refused the {step} request: {_describe_token_error(response)}. {hint}",
                step=step,
                status_code=response.status_code,
                method="POST",
                url=token_url,
                headers=dict(response.headers),
            )
        try:
            data = loads(response.content)
        except ValueError:
            data = None
        if not isinstance(data, dict) or "access_token" not in data:
            raise AuthError(
                f"Zoom's token endpoint answered the {step} request without an access_token",
                step=step,
                status_code=response.status_code,
                method="POST",
                url=token_url,
            )
        problem = _token_problem(data)
        if problem is not None:
            # Not retried: the endpoint answered, and sending "Bearer None" would not help.
            raise AuthError(
                f"Zoom's token endpoint answered the {step} request with an unusable token: "
                f"{problem}",
                step=step,
                status_code=response.status_code,
                method="POST",
                url=token_url,
            )
        return OAuthToken._from_checked(data, clock.utcnow())
    raise AssertionError("unreachable")  # pragma: no cover


class ServerToServerAuth:
    """Server-to-server OAuth (``grant_type=account_credentials``).

    Tokens last an hour; one is fetched on first use, cached, and renewed ``refresh_margin``
    seconds before it expires. 500 coroutines calling at once on a cold client cause exactly one
    token request.
    """

    def __init__(
        self,
        account_id: str,
        client_id: str,
        client_secret: str,
        *,
        token_url: str = DEFAULT_TOKEN_URL,
        clock: Clock | None = None,
        refresh_margin: float = 120.0,
        shared: SharedTokens | None = None,
    ) -> None:
        missing = [
            name
            for name, value in (
                ("account_id", account_id),
                ("client_id", client_id),
                ("client_secret", client_secret),
            )
            if not value
        ]
        if missing:
            raise ConfigurationError(
                f"server-to-server OAuth needs {', '.join(missing)}: pass them to ZoomClient "
                "or set " + ", ".join(f"ZOOM_{m.upper()}" for m in missing)
            )
        self.account_id = account_id
        self.client_id = client_id
        self._client_secret = client_secret
        self.token_url = token_url
        self._clock = clock or SystemClock()
        self._refresh_margin = refresh_margin
        self._token: OAuthToken | None = None
        self._renew_at = -math.inf
        # Callers that find no usable token queue here; the first fetches, the rest reuse it.
        self._fetch_lock = anyio.Lock()
        self.token_requests = 0
        """How many token requests this object has made."""
        self.shared = shared
        """Where processes of this app share the token (``ZoomClient(store=RedisStore...)``
        sets it); ``None``: this object keeps its own."""

    @property
    def _shared_key(self) -> str:
        return f"s2s:{self.account_id}:{self.client_id}"

    def __repr__(self) -> str:
        return (
            f"ServerToServerAuth(account_id={self.account_id!r}, client_id={self.client_id!r}, "
            "client_secret=<redacted>)"
        )

    def _fresh(self) -> bool:
        # Expiry is tracked on the monotonic clock: a wall-clock jump must not keep a dead token.
        return self._clock.monotonic() < self._renew_at

    async def get_token(self, http: httpx.AsyncClient) -> str:
        """The cached token, or a new one when it is missing or about to expire."""
        token = self._token
        if token is not None and self._fresh():
            return token.access_token
        async with self._fetch_lock:
            token = self._token
            if token is not None and self._fresh():
                return token.access_token
            if self.shared is not None:
                return await self._shared_token(http, self.shared)
            return (await self._fetch(http))[0].access_token

    def _adopt(self, token: OAuthToken, fresh_for: float) -> None:
        # Expiry is tracked on the monotonic clock: a wall-clock jump must not keep a dead token.
        self._renew_at = self._clock.monotonic() + fresh_for
        self._token = token

    async def _shared_token(self, http: httpx.AsyncClient, shared: SharedTokens) -> str:
        key = self._shared_key
        try:
            found = await shared.load_token(key)
            if found is None:
                async with shared.token_lock(key):
                    # Another process may have fetched one while this one waited for the lock.
                    found = await shared.load_token(key)
                    if found is None:
                        token, fresh_for = await self._fetch(http)
                        with contextlib.suppress(LimiterUnavailable):
                            await shared.save_token(key, token, fresh_for)
                        return token.access_token
        except LimiterUnavailable:
            # The shared cache is down: a token of our own still lets requests go out (Zoom
            # keeps earlier server-to-server tokens valid until they expire).
            logger.warning("shared token cache unavailable; fetching a token for this process")
            return (await self._fetch(http))[0].access_token
        token, fresh_for = found
        self._adopt(token, fresh_for)
        return token.access_token

    async def _fetch(self, http: httpx.AsyncClient) -> tuple[OAuthToken, float]:
        """Ask Zoom for a token, keep it, and return it with the seconds it stays fresh."""
        self.token_requests += 1
        token = await _post_token(
            http,
            self.token_url,
            client_id=self.client_id,
            client_secret=self._client_secret,
            form={"grant_type": "account_credentials", "account_id": self.account_id},
            step="token",
            hint="Check the account ID, client ID and client secret of your "
            "server-to-server OAuth app, and that the app is activated.",
            clock=self._clock,
        )
        lifetime = (token.expires_at - self._clock.utcnow()).total_seconds()
        fresh_for = lifetime - min(self._refresh_margin, lifetime / 2)
        self._adopt(token, fresh_for)
        logger.debug("fetched a server-to-server token, expires at %s", token.expires_at)
        return token, fresh_for

    async def invalidate(self, token: str) -> None:
        """Drop ``token`` if it is still the cached one (another caller may have renewed it)."""
        if self._token is not None and secrets.compare_digest(self._token.access_token, token):
            self._token = None
        if self.shared is not None:
            with contextlib.suppress(LimiterUnavailable):
                await self.shared.drop_token(self._shared_key, token)


@runtime_checkable
class TokenStore(Protocol):
    """Where :class:`UserOAuth` keeps each user's tokens (a database, Redis, ...).

    Zoom rotates refresh tokens: every refresh returns a new one and the old one stops working,
    so ``set`` must persist durably before the new access token is used.
    """

    async def get(self, key: str) -> OAuthToken | None:
        """The tokens saved for ``key``, if any."""
        ...

    async def set(self, key: str, token: OAuthToken) -> None:
        """Save (replace) the tokens for ``key``."""
        ...

    async def delete(self, key: str) -> None:
        """Forget ``key``'s tokens (the user revoked the app)."""
        ...


@runtime_checkable
class LockingTokenStore(TokenStore, Protocol):
    """A :class:`TokenStore` shared by several processes (``RedisStore.token_store()``):
    :class:`UserOAuth` refreshes under its lock and saves with compare-and-set."""

    def lock(self, key: str) -> AbstractAsyncContextManager[None]:
        """Held while ``key``'s tokens are refreshed, by one process at a time."""
        ...

    async def replace(self, key: str, refresh_token: str, token: OAuthToken) -> bool:
        """Save ``token`` for ``key`` only if the saved refresh token is still
        ``refresh_token``; tell whether it did."""
        ...


class InMemoryTokenStore:
    """A process-local :class:`TokenStore`: tokens are lost when the process exits."""

    def __init__(self) -> None:
        self._tokens: dict[str, OAuthToken] = {}

    async def get(self, key: str) -> OAuthToken | None:
        """The tokens saved for ``key``."""
        return self._tokens.get(key)

    async def set(self, key: str, token: OAuthToken) -> None:
        """Save the tokens for ``key``."""
        self._tokens[key] = token

    async def delete(self, key: str) -> None:
        """Forget ``key``."""
        self._tokens.pop(key, None)

    def __repr__(self) -> str:
        return f"InMemoryTokenStore(users={len(self._tokens)})"


@dataclass(frozen=True, slots=True)
class AuthorizationRequest:
    """Where to send the user, and what to keep until the callback.

    Keep ``state`` (compare it with the callback's) and ``code_verifier`` (pass it to
    :meth:`UserOAuth.exchange_code`) in the user's session.
    """

    url: str
    state: str
    code_verifier: str = field(repr=False)


class UserOAuth:
    """User OAuth (authorization code grant with PKCE) with refresh and a token store."""

    def __init__(
        self,
        client_id: str,
        client_secret: str,
        redirect_uri: str,
        *,
        store: TokenStore | None = None,
        authorize_url: str = DEFAULT_AUTHORIZE_URL,
        token_url: str = DEFAULT_TOKEN_URL,
        clock: Clock | None = None,
        refresh_margin: float = 120.0,
    ) -> None:
        if not client_id or not client_secret or not redirect_uri:
            raise ConfigurationError("UserOAuth needs client_id, client_secret and redirect_uri")
        self.client_id = client_id
        self._client_secret = client_secret
        self.redirect_uri = redirect_uri
        self.store: TokenStore = store if store is not None else InMemoryTokenStore()
        self.authorize_endpoint = authorize_url
        self.token_url = token_url
        self._clock = clock or SystemClock()
        self._refresh_margin = refresh_margin
        self._locks: dict[str, anyio.Lock] = {}

    def __repr__(self) -> str:
        return (
            f"UserOAuth(client_id={self.client_id!r}, client_secret=<redacted>, "
            f"redirect_uri={self.redirect_uri!r})"
        )

    def authorization_url(self, *, state: str | None = None) -> AuthorizationRequest:
        """Build Zoom's authorize URL with a fresh PKCE verifier (S256) and ``state``."""
        verifier = secrets.token_urlsafe(64)
        challenge = (
            base64.urlsafe_b64encode(hashlib.sha256(verifier.encode("ascii")).digest())
            .rstrip(b"=")
            .decode("ascii")
        )
        state = state or secrets.token_urlsafe(24)
        query = urlencode(
            {
                "response_type": "code",
                "client_id": self.client_id,
                "redirect_uri": self.redirect_uri,
                "state": state,
                "code_challenge": challenge,
                "code_challenge_method": "S256",
            }
        )
        return AuthorizationRequest(
            url=f"{self.authorize_endpoint}?{query}", state=state, code_verifier=verifier
        )

    @asynccontextmanager
    async def _http(self, http: httpx.AsyncClient | None) -> AsyncIterator[httpx.AsyncClient]:
        if http is not None:
            yield http
        else:
            async with httpx.AsyncClient(timeout=30.0, headers={"User-Agent": USER_AGENT}) as own:
                yield own

    async def _request_token(
        self, http: httpx.AsyncClient | None, form: dict[str, str], *, step: str, hint: str
    ) -> OAuthToken:
        async with self._http(http) as client:
            return await _post_token(
                client,
                self.token_url,
                client_id=self.client_id,
                client_secret=self._client_secret,
                form=form,
                step=step,
                hint=hint,
                clock=self._clock,
            )

    async def exchange_code(
        self,
        code: str,
        *,
        user_key: str,
        code_verifier: str | None = None,
        http: httpx.AsyncClient | None = None,
    ) -> OAuthToken:
        """Trade the callback's ``code`` for tokens, save them under ``user_key``, return them."""
        form = {"grant_type": "authorization_code", "code": code, "redirect_uri": self.redirect_uri}
        if code_verifier:
            form["code_verifier"] = code_verifier
        token = await self._request_token(
            http,
            form,
            step="exchange",
            hint="Authorization codes are single-use and short-lived; check redirect_uri "
            "matches the one used for the authorize URL.",
        )
        await self.store.set(user_key, token)
        return token

    @asynccontextmanager
    async def _lock(self, user_key: str) -> AsyncIterator[None]:
        # One refresh at a time per user in this process, and, with a store shared by several
        # processes (LockingTokenStore), in all of them: Zoom rotates refresh tokens, so two
        # refreshes with the same one would leave the user signed out.
        lock = self._locks.get(user_key)
        if lock is None:
            lock = self._locks[user_key] = anyio.Lock()
        async with lock:
            if isinstance(self.store, LockingTokenStore):
                async with self.store.lock(user_key):
                    yield
            else:
                yield

    async def refresh(self, user_key: str, *, http: httpx.AsyncClient | None = None) -> OAuthToken:
        """Refresh ``user_key``'s tokens now and persist the rotated refresh token."""
        async with self._lock(user_key):
            return await self._refresh_locked(user_key, http)

    async def _refresh_locked(self, user_key: str, http: httpx.AsyncClient | None) -> OAuthToken:
        current = await self.store.get(user_key)
        if current is None or not current.refresh_token:
            raise AuthError(
                f"no refresh token stored for user {user_key!r}: send the user through "
                "authorization_url() again",
                step="refresh",
                sent=False,
            )
        token = await self._request_token(
            http,
            {"grant_type": "refresh_token", "refresh_token": current.refresh_token},
            step="refresh",
            hint="The refresh token may have been used already (Zoom rotates them) or "
            "revoked; the user must authorize the app again.",
        )
        if token.refresh_token is None:
            token = replace(token, refresh_token=current.refresh_token)
        if isinstance(self.store, LockingTokenStore):
            # Compare-and-set: save only over the tokens this refresh spent. If another process
            # saved newer ones meanwhile (its lock lapsed), keep those.
            if not await self.store.replace(user_key, current.refresh_token, token):
                logger.warning("tokens of %r changed during a refresh; keeping the newer", user_key)
                newer = await self.store.get(user_key)
                return newer if newer is not None else token
            return token
        await self.store.set(user_key, token)
        return token

    async def token_for(self, user_key: str, http: httpx.AsyncClient | None = None) -> str:
        """A valid access token for ``user_key``, refreshing it (once, for all callers) if due."""
        token = await self.store.get(user_key)
        if token is not None and not token.expires_within(
            self._clock.utcnow(), self._refresh_margin
        ):
            return token.access_token
        async with self._lock(user_key):
            token = await self.store.get(user_key)
            if token is None:
                raise AuthError(
                    f"no tokens stored for user {user_key!r}: "
                    "complete the authorization flow first",
                    step="refresh",
                    sent=False,
                )
            if token.expires_within(self._clock.utcnow(), self._refresh_margin):
                token = await self._refresh_locked(user_key, http)
            return token.access_token

    async def expire(self, user_key: str, access_token: str) -> None:
        """Mark ``access_token`` as rejected so the next call refreshes."""
        async with self._lock(user_key):
            token = await self.store.get(user_key)
            if token is not None and secrets.compare_digest(token.access_token, access_token):
                await self.store.set(
                    user_key, replace(token, expires_at=self._clock.utcnow() - timedelta(seconds=1))
                )

    def for_user(self, user_key: str) -> UserTokenSource:
        """A :class:`TokenSource` acting as ``user_key``, for ``ZoomClient(auth=...)``."""
        return UserTokenSource(self, user_key)


class UserTokenSource:
    """The tokens of one user of a :class:`UserOAuth` app."""

    def __init__(self, oauth: UserOAuth, user_key: str) -> None:
        self.oauth = oauth
        self.user_key = user_key

    async def get_token(self, http: httpx.AsyncClient) -> str:
        """The user's access token, refreshed when due."""
        return await self.oauth.token_for(self.user_key, http)

    async def invalidate(self, token: str) -> None:
        """Force a refresh on the next call."""
        await self.oauth.expire(self.user_key, token)

    def __repr__(self) -> str:
        return f"UserTokenSource(user_key={self.user_key!r})"
