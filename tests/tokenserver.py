"""A tiny OAuth2 token endpoint on 127.0.0.1 for the tests: what Microsoft's or Google's
is to the daemon, with access tokens Dovecot can check.

It issues access tokens as JWTs (HS256, signed with the stack's key, or any key given)
from a refresh token, counts the refreshes, and runs the device flow (RFC 8628): the
device-authorization endpoint hands out a code, and the token endpoint answers
``authorization_pending`` until :meth:`TokenServer.approve` (or a set number of polls).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def sign_jwt(key: bytes, claims: dict[str, Any]) -> str:
    """An HS256 JWT of ``claims`` (what Dovecot's oauth2 passdb validates locally)."""
    head = _b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    body = _b64(json.dumps(claims).encode())
    mac = hmac.new(key, f"{head}.{body}".encode(), hashlib.sha256).digest()
    return f"{head}.{body}.{_b64(mac)}"


def access_token(key: bytes, user: str, *, lifetime: float = 3600,
                 now: float | None = None) -> str:
    """An access token for ``user`` valid ``lifetime`` seconds from ``now`` (negative:
    expired that long ago)."""
    now = time.time() if now is None else now
    start = int(min(now, now + lifetime) - 60)
    return sign_jwt(key, {"sub": user, "email": user, "iat": start, "nbf": start,
                          "exp": int(now + lifetime)})


@dataclass
class TokenServer:
    """The endpoints' state; the URLs once :func:`serve` runs it."""

    key: bytes
    user: str
    client_id: str = "surety-test-client"
    refresh_token: str = field(default_factory=lambda: "rt-" + secrets.token_urlsafe(24))
    lifetime: float = 3600  # of each access token issued
    pending_polls: int = 1  # device flow: polls answered authorization_pending first
    deny: bool = False  # device flow: the user declines
    refreshes: int = 0
    device_polls: int = 0
    requests: list[dict[str, str]] = field(default_factory=list)
    issued: list[str] = field(default_factory=list)
    base_url: str = ""
    device_code: str = field(default_factory=lambda: "dc-" + secrets.token_urlsafe(16))
    user_code: str = "WDJB-MJHT"
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def token_url(self) -> str:
        return f"{self.base_url}/token"

    @property
    def device_url(self) -> str:
        return f"{self.base_url}/devicecode"

    def answer(self, path: str, form: dict[str, str]) -> tuple[int, dict[str, Any]]:
        """The status and JSON body for one request."""
        with self.lock:
            self.requests.append({"path": path, **form})
            if form.get("client_id") != self.client_id:
                return 401, {"error": "invalid_client"}
            if path == "/devicecode":
                return 200, {"device_code": self.device_code, "user_code": self.user_code,
                             "verification_uri": f"{self.base_url}/device",
                             "expires_in": 30, "interval": 0.05,
                             "message": "To sign in, open the page and enter the code."}
            if path != "/token":
                return 404, {"error": "not_found"}
            grant = form.get("grant_type")
            if grant == "refresh_token":
                if form.get("refresh_token") != self.refresh_token:
                    return 400, {"error": "invalid_grant"}
                self.refreshes += 1
                return 200, self._issue()
            if grant == "urn:ietf:params:oauth:grant-type:device_code":
                if form.get("device_code") != self.device_code:
                    return 400, {"error": "invalid_grant"}
                self.device_polls += 1
                if self.deny:
                    return 400, {"error": "access_denied"}
                if self.device_polls <= self.pending_polls:
                    return 400, {"error": "authorization_pending"}
                return 200, self._issue()
            return 400, {"error": "unsupported_grant_type"}

    def _issue(self) -> dict[str, Any]:
        token = access_token(self.key, self.user, lifetime=self.lifetime)
        self.issued.append(token)
        return {"access_token": token, "token_type": "Bearer",
                "expires_in": int(self.lifetime), "refresh_token": self.refresh_token,
                "scope": "mail"}


def _handler(server: TokenServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length).decode()
            fields = parse_qs(raw)
            form = {k: v[0] for k, v in fields.items()}
            if any(len(v) > 1 for v in fields.values()):  # as strict as a real one
                status, body = 400, {"error": "invalid_request",
                                     "error_description": "a parameter given twice"}
            else:
                status, body = server.answer(self.path, form)
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: object) -> None:  # quiet
            return

    return Handler


@contextmanager
def serve(server: TokenServer) -> Iterator[TokenServer]:
    """Run the endpoints on a free port of 127.0.0.1 while the block runs."""
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(server))
    server.base_url = f"http://127.0.0.1:{httpd.server_address[1]}"
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        httpd.shutdown()
        httpd.server_close()
