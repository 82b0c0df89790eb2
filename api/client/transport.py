"""One API over HTTPS: the token on every request, 429s and connection errors retried (retry.py)."""

import json
import ssl
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import urllib3
from urllib3.exceptions import ConnectTimeoutError, HTTPError, MaxRetryError, SSLError

from api.client.auth import Token
from api.client.errors import ERROR_BODY_BYTES, ClientError, error_of
from api.client.retry import IDEMPOTENT, RetryPolicy, connection_retry

CONNECT_TIMEOUT_S = 10.0
# The worst valid predict is ~3 s of CPU on an idle server (README); a busy one answers later.
READ_TIMEOUT_S = 60.0
JSON_TYPE = "application/json"


@dataclass(frozen=True)
class Answer:
    """A successful answer: its status, headers and whole body."""

    status: int
    headers: Mapping[str, str]
    body: bytes

    def json(self) -> Any:
        """Return the body as JSON; None if it is empty (204)."""
        return json.loads(self.body) if self.body else None


class Transport:
    """Requests to one API base URL, verified by ``context``, authorised by ``token``."""

    def __init__(
        self,
        base: str,
        token: Token | None,
        context: ssl.SSLContext,
        policy: RetryPolicy,
        connection_retries: int,
    ) -> None:
        self.base, self._token, self.policy = base, token, policy
        self._connection_retries = connection_retries
        self._pool = urllib3.PoolManager(
            ssl_context=context,
            timeout=urllib3.Timeout(connect=CONNECT_TIMEOUT_S, read=READ_TIMEOUT_S),
            retries=False,
        )

    def __repr__(self) -> str:
        return f"Transport({self.base!r})"

    def close(self) -> None:
        """Close every pooled connection."""
        self._pool.clear()

    def request(
        self,
        method: str,
        path: str,
        query: Mapping[str, str] | None = None,
        body: bytes | None = None,
        auth: bool = True,
    ) -> Answer:
        """Return the successful answer to one request, retried as retry.py says; raise ClientError.

        ``body`` is JSON already encoded; ``auth=False`` sends no token (public paths).
        """
        url = self.base + path + ("?" + urllib.parse.urlencode(query) if query else "")
        headers = {"Accept": JSON_TYPE}
        if body is not None:
            headers["Content-Type"] = JSON_TYPE
        if auth and self._token is not None:
            headers["Authorization"] = self._token.header()
        waited, attempt = 0.0, 0
        while True:
            response = self._send(method, url, headers, body)
            delay = self.policy.delay(response.status, response.headers, attempt, waited)
            if delay is None:
                break
            self.policy.sleep(delay)
            waited, attempt = waited + delay, attempt + 1
        if response.status >= 300:
            raise error_of(response.status, response.reason or "", response.data[:ERROR_BODY_BYTES])
        return Answer(response.status, response.headers, response.data)

    def _send(
        self, method: str, url: str, headers: Mapping[str, str], body: bytes | None
    ) -> urllib3.BaseHTTPResponse:
        """Send one request, urllib3 retrying connection errors; raise ClientError if none answers."""
        try:
            return self._pool.request(
                method,
                url,
                body=body,
                headers=dict(headers),
                retries=connection_retry(method, self._connection_retries),
            )
        except MaxRetryError as exc:
            raise _unreachable(self.base, method, exc.reason) from exc
        except HTTPError as exc:
            raise _unreachable(self.base, method, exc) from exc


def _unreachable(base: str, method: str, cause: Exception | None) -> ClientError:
    """Return the ClientError of a request that got no answer, saying whether it may have been processed."""
    if isinstance(cause, SSLError):
        if any(isinstance(arg, ssl.SSLCertVerificationError) for arg in cause.args):
            return ClientError(f"{base} is not the server the CA vouches for, nothing was sent: {cause}")
        return ClientError(f"TLS with {base} failed: {cause}")
    if isinstance(cause, ConnectTimeoutError) or method.upper() in IDEMPOTENT:
        return ClientError(f"cannot reach {base}: {cause}")
    return ClientError(
        f"the connection to {base} broke after the {method} was sent ({cause}); not sent again, since the"
        " server may have processed it"
    )
