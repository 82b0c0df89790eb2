"""The Python client of the sentiment API: predict (batched), models, history and feedback.

from api.client import Client

with Client("https://localhost:5000", cafile="certs/ca.crt") as api:  # token: $API_TOKEN
    result = api.predict(["I love it :)", "worst day ever"], detail=True)
    result.labels()  # [{"label": "Positive", "score": 0.93}, {"label": "Negative", ...}]
"""

import os
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from api.client import batching
from api.client.auth import token_from
from api.client.errors import ClientError
from api.client.results import Model, Predictions, StoredPrediction
from api.client.retry import CONNECTION_RETRIES, MAX_WAIT_S, RETRIES, RetryPolicy
from api.client.tls import https_base, tls_context
from api.client.transport import Answer, Transport

# The API's paths (README, "Endpoints"); tests/client/test_paths.py checks each against the server's document.
PREDICT = "/api/v1/predict"
PREDICTIONS = "/api/v1/predictions"
FEEDBACK = "/api/v1/feedback"
MODELS = "/api/v1/models"
MODEL = "/api/v1/model"
OPENAPI = "/api/v1/openapi.json"
# Where the OpenAPI document declares the body limit of a JSON request (api/web/openapi.py).
BODY_BYTES_EXTENSION = "x-max-body-bytes"


class Client:
    """One API server. ``token``: the bearer token, else $API_TOKEN; ``cafile``: the CA that signed the
    server (None: the system's CAs); ``cert``/``key``: a client certificate for mutual TLS.

    ``retries`` and ``max_wait_s`` bound the 429s each request is retried after (and their waits,
    together); ``connection_retries`` the connection errors (api/client/retry.py says which).
    """

    def __init__(
        self,
        url: str,
        token: str | None = None,
        *,
        cafile: Path | str | None = None,
        cert: Path | str | None = None,
        key: Path | str | None = None,
        retries: int = RETRIES,
        max_wait_s: float = MAX_WAIT_S,
        connection_retries: int = CONNECTION_RETRIES,
        sleep: Callable[[float], None] = time.sleep,
        environ: Mapping[str, str] = os.environ,
    ) -> None:
        base = https_base(url)
        policy = RetryPolicy(retries, max_wait_s, sleep)
        context = tls_context(cafile, cert, key)
        self._transport = Transport(base, token_from(token, environ), context, policy, connection_retries)
        self._limits: batching.Limits | None = None

    def __repr__(self) -> str:
        return f"Client({self._transport.base!r})"

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the client's connections."""
        self._transport.close()

    def predict(
        self,
        tweets: Mapping[str, str] | Sequence[str],
        *,
        model: str | None = None,
        detail: bool | None = None,
        explain: bool | None = None,
        store: bool | None = None,
    ) -> Predictions:
        """Label ``tweets`` (id -> text, or a list: ids "0", "1", ...), in as many requests as the
        server's limits need; the answers merged in the tweets' order.

        ``model``: a model's name or "all"; ``detail``, ``explain``, ``store``: the API's options
        (None: the server's default). Raise ClientError on the first request refused.
        """
        if isinstance(tweets, str):
            raise ClientError("predict takes a list of tweets or a dict of id -> tweet, not one string")
        given = tweets if isinstance(tweets, Mapping) else {str(i): text for i, text in enumerate(tweets)}
        items = batching.encode(given)
        options = {"model": model, "detail": detail, "explain": explain, "store": store}
        query = {name: _query_value(value) for name, value in options.items() if value is not None}
        limits = self.limits() if items else batching.Limits(1)
        answers: dict[str, Any] = {}
        models: tuple[str, ...] = ()
        versions: list[str] = []
        start = requests = 0
        while start < len(items):
            end = batching.next_batch(items, start, limits)
            try:
                answer = self._transport.request("POST", PREDICT, query, batching.body(items[start:end]))
            except ClientError as exc:
                narrower = batching.narrowed(limits, exc, items[start:end])
                if narrower is None:
                    raise
                limits = narrower
                continue
            answers.update(_answers_of(answer, items[start:end]))
            models = models or tuple(answer.headers.get("X-Model", "").split(","))
            version = answer.headers.get("X-Model-Version", "")
            versions += [version] if version not in versions else []
            start, requests = end, requests + 1
        return Predictions(answers, models, tuple(versions), requests)

    def limits(self) -> batching.Limits:
        """Return the server's limits on one predict, read once from its OpenAPI document."""
        if self._limits is None:
            spec = self._transport.request("GET", OPENAPI, auth=False).json()
            self._limits = _limits_of(spec)
        return self._limits

    def models(self) -> list[Model]:
        """Return every served model."""
        return [Model.of(info) for info in self._json("GET", MODELS)["models"]]

    def model(self) -> Model:
        """Return the server's default model."""
        return Model.of(self._json("GET", MODEL))

    def predictions(self, limit: int | None = None, before: int | None = None) -> list[StoredPrediction]:
        """Return one page of the token's stored predictions, newest first (an admin token: everyone's),
        below the cursor ``before`` if given."""
        return self._page(limit, before)[0]

    def history(self, page: int | None = None) -> Iterator[StoredPrediction]:
        """Yield every stored prediction, newest first, following the server's ``next`` cursor; ``page``
        rows a request (None: the server's default ``limit``)."""
        before: int | None = None
        while True:
            rows, before = self._page(page, before)
            yield from rows
            if before is None:
                return

    def _page(self, limit: int | None, before: int | None) -> tuple[list[StoredPrediction], int | None]:
        """Return one page of the history and the cursor of the next (None after the last)."""
        query = {
            name: str(value) for name, value in (("limit", limit), ("before", before)) if value is not None
        }
        answer = self._json("GET", PREDICTIONS, query or None)
        return [StoredPrediction.of(row) for row in answer["predictions"]], answer.get("next")

    def feedback(self, labels: Mapping[str, str]) -> int:
        """Record the true labels of tweets this token had scored (id -> "Positive"/"Negative");
        return how many were recorded. All or nothing, so never split: one request."""
        body = batching.body(batching.encode(labels))
        return int(self._json("POST", FEEDBACK, body=body)["recorded"])

    def accuracy(self) -> dict[str, Any]:
        """Return the live accuracy per model and version (``GET /api/v1/feedback``)."""
        return self._json("GET", FEEDBACK)

    def _json(
        self, method: str, path: str, query: Mapping[str, str] | None = None, body: bytes | None = None
    ) -> dict[str, Any]:
        """Return the JSON object answering one request."""
        answer: dict[str, Any] = self._transport.request(method, path, query, body).json()
        return answer


def _query_value(value: str | bool) -> str:
    """Return an option as the API reads it: booleans as ``true``/``false``."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return value


def _answers_of(answer: Answer, batch: Sequence[batching.Item]) -> dict[str, Any]:
    """Return a predict's answers; raise ClientError if they are not for exactly the ids sent."""
    answers: dict[str, Any] = answer.json()
    if list(answers) != [item.key for item in batch]:
        raise ClientError("the server answered for other ids than were sent, or in another order")
    return answers


def _limits_of(spec: dict[str, Any]) -> batching.Limits:
    """Return the limits the OpenAPI document declares on the predict's body; ClientError if it has none."""
    try:
        request_body = spec["paths"][PREDICT]["post"]["requestBody"]
        ref = request_body["content"]["application/json"]["schema"]["$ref"]
        schema = spec["components"]["schemas"][ref.rsplit("/", 1)[-1]]
        items = int(schema["maxProperties"])
        declared = request_body.get(BODY_BYTES_EXTENSION)
    except (KeyError, TypeError, ValueError) as exc:
        raise ClientError(f"the server's OpenAPI document declares no predict limits ({exc!r})") from exc
    return batching.Limits(items, None if declared is None else int(declared))
