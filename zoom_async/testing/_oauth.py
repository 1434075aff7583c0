"""The fake's OAuth server: ``POST /oauth/token`` and bearer-token checks.

Grants: ``account_credentials`` (Server-to-Server OAuth, the token acts as the account owner),
``authorization_code`` (with optional PKCE ``code_verifier``) and ``refresh_token`` (refresh
tokens rotate: the one used becomes invalid). Client credentials come in HTTP Basic auth, or as
``client_id``/``client_secret`` form fields.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import random
import string
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from ._responses import Reply, ZoomHTTPError

__all__ = ["OAuthServer"]

_ALPHABET = string.ascii_letters + string.digits + "-_"
_S2S_SCOPE = (
    "user:read:admin user:write:admin meeting:read:admin meeting:write:admin "
    "report:read:admin dashboard:read:admin phone:read:admin"
)
_USER_SCOPE = "user:read meeting:read meeting:write"
CODE_TTL = 600.0


@dataclass
class _AccessToken:
    user_id: str
    expires_at: float
    expired: bool = False


@dataclass
class _Code:
    user_id: str
    redirect_uri: str | None
    challenge: str | None
    challenge_method: str
    expires_at: float


def _oauth_error(status: int, reason: str, error: str) -> Reply:
    return Reply(status, {"reason": reason, "error": error})


class OAuthServer:
    """Issues and checks the fake's tokens."""

    def __init__(
        self,
        *,
        client_id: str,
        client_secret: str,
        account_id: str,
        token_ttl: float,
        rng: random.Random,
    ) -> None:
        self.client_id = client_id
        self.client_secret = client_secret
        self.account_id = account_id
        self.token_ttl = token_ttl
        self._rng = rng
        self._access: dict[str, _AccessToken] = {}
        self._signing_key = rng.randbytes(32)
        self.epoch: Callable[[], float] | None = None
        """Unix time for the tokens' ``iat``/``exp`` claims (set by FakeZoom from its clock)."""
        self.owner_id: Callable[[], str] = str
        self._refresh: dict[str, str] = {}
        self._codes: dict[str, _Code] = {}

    def _random(self, prefix: str, n: int) -> str:
        return prefix + "".join(self._rng.choices(_ALPHABET, k=n))

    # -- helpers for tests -----------------------------------------------------------------

    def issue_code(
        self,
        user_id: str,
        now: float,
        *,
        redirect_uri: str | None,
        code_challenge: str | None,
        code_challenge_method: str,
    ) -> str:
        """An authorization code for ``user_id``, valid once for ten minutes."""
        if code_challenge_method not in ("S256", "plain"):
            raise ValueError("code_challenge_method must be 'S256' or 'plain'")
        code = self._random("", 32)
        self._codes[code] = _Code(
            user_id, redirect_uri, code_challenge, code_challenge_method, now + CODE_TTL
        )
        return code

    def expire_all(self, now: float) -> int:
        """Expire every access token issued so far; how many were still valid."""
        n = 0
        for token in self._access.values():
            if not token.expired and now < token.expires_at:
                n += 1
            token.expired = True
        return n

    def _jwt(self, claims: dict[str, Any]) -> str:
        """A three-part JWT shaped like Zoom's (HS512), signed with a key of this fake only."""

        def part(data: Any) -> str:
            raw = json.dumps(data, separators=(",", ":")).encode()
            return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()

        header = part({"alg": "HS512", "v": "2.0", "kid": self._random("", 36)})
        body = part(claims)
        signature = hmac.new(self._signing_key, f"{header}.{body}".encode(), hashlib.sha512)
        return f"{header}.{body}." + (
            base64.urlsafe_b64encode(signature.digest()).rstrip(b"=").decode()
        )

    def _claims(self, user_id: str, kind: str) -> dict[str, Any]:
        issued = int(self.epoch()) if self.epoch is not None else 0
        return {
            "aud": "https://oauth.zoom.us",
            "uid": user_id or self.owner_id(),
            "ver": 10,
            "auid": self._random("", 32),
            "nbf": issued,
            "code": self._random("", 32),
            "iss": f"zm:cid:{self.client_id}",
            "gno": 0,
            "exp": issued + int(self.token_ttl),
            "type": kind,
            "iat": issued,
            "aid": self.account_id,
            "jti": self._random("", 36),
        }

    def new_access_token(self, user_id: str, now: float) -> str:
        """A fresh access token acting as ``user_id`` (no token request counted)."""
        value = self._jwt(self._claims(user_id, "3"))
        self._access[value] = _AccessToken(user_id, now + self.token_ttl)
        return value

    # -- the token endpoint ----------------------------------------------------------------

    def _client_ok(self, form: Mapping[str, str], authorization: str | None) -> Reply | None:
        client_id = client_secret = None
        if authorization and authorization[:6].lower() == "basic ":
            try:
                decoded = base64.b64decode(authorization[6:].strip(), validate=True).decode()
            except (binascii.Error, UnicodeDecodeError):
                decoded = ""
            client_id, sep, client_secret = decoded.partition(":")
            if not sep:
                client_id = client_secret = None
        elif "client_id" in form:
            client_id, client_secret = form.get("client_id"), form.get("client_secret", "")
        if client_id is None:
            return _oauth_error(401, "Invalid client_id or client_secret", "invalid_client")
        if not (
            hmac.compare_digest(client_id, self.client_id)
            and hmac.compare_digest(client_secret or "", self.client_secret)
        ):
            return _oauth_error(400, "Invalid client_id or client_secret", "invalid_client")
        return None

    def token_request(
        self, form: Mapping[str, str], authorization: str | None, now: float, api_url: str
    ) -> Reply:
        """Answer ``POST /oauth/token`` (``form`` merges the query string and the body)."""
        refused = self._client_ok(form, authorization)
        if refused is not None:
            return refused
        grant = form.get("grant_type", "")
        if not grant:
            return _oauth_error(400, "Missing grant type", "invalid_request")
        if grant == "account_credentials":
            account = form.get("account_id", "")
            if not account:
                return _oauth_error(400, "Missing account_id", "invalid_request")
            if account != self.account_id:
                return _oauth_error(400, "Invalid account_id", "invalid_request")
            body: dict[str, Any] = {
                "access_token": self.new_access_token(_S2S_OWNER, now),
                "token_type": "bearer",
                "expires_in": int(self.token_ttl),
                "scope": _S2S_SCOPE,
                "api_url": api_url,
            }
            return Reply(200, body)
        if grant == "authorization_code":
            return self._exchange_code(form, now)
        if grant == "refresh_token":
            old = form.get("refresh_token", "")
            user_id = self._refresh.pop(old, None)
            if user_id is None:
                return _oauth_error(400, "Invalid Token!", "invalid_request")
            return Reply(200, self._user_tokens(user_id, now))
        return _oauth_error(400, "Unsupported grant type", "unsupported_grant_type")

    def _exchange_code(self, form: Mapping[str, str], now: float) -> Reply:
        code = self._codes.pop(form.get("code", ""), None)
        if code is None or now >= code.expires_at:
            return _oauth_error(400, "Invalid authorization code", "invalid_grant")
        if code.redirect_uri is not None and form.get("redirect_uri") != code.redirect_uri:
            return _oauth_error(400, "Redirect URI mismatch.", "invalid_request")
        if code.challenge is not None:
            verifier = form.get("code_verifier", "")
            if code.challenge_method == "S256":
                digest = hashlib.sha256(verifier.encode()).digest()
                computed = base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
            else:
                computed = verifier
            if not verifier or not hmac.compare_digest(computed, code.challenge):
                return _oauth_error(400, "Invalid code verifier", "invalid_grant")
        return Reply(200, self._user_tokens(code.user_id, now))

    def _user_tokens(self, user_id: str, now: float) -> dict[str, Any]:
        refresh = self._jwt(self._claims(user_id, "1"))
        self._refresh[refresh] = user_id
        return {
            "access_token": self.new_access_token(user_id, now),
            "token_type": "bearer",
            "refresh_token": refresh,
            "expires_in": int(self.token_ttl),
            "scope": _USER_SCOPE,
        }

    # -- API calls -------------------------------------------------------------------------

    def authenticate(self, authorization: str | None, now: float) -> str:
        """The user id a request acts as ("" for the account owner); 401 otherwise."""
        if not authorization or authorization[:7].lower() != "bearer ":
            raise ZoomHTTPError(401, 124, "Invalid access token.")
        token = self._access.get(authorization[7:].strip())
        if token is None:
            raise ZoomHTTPError(401, 124, "Invalid access token.")
        if token.expired or now >= token.expires_at:
            raise ZoomHTTPError(401, 124, "Access token is expired.")
        return token.user_id


_S2S_OWNER = ""
"""Server-to-Server tokens act as the account owner, whoever that is when the call arrives."""
