"""The OpenAPI 3.1 description of the API, built from the app's settings so its limits never drift."""

# NUL is refused in keys and tweets (see api.web.validation). Lone surrogates are
# refused too, but JSON Schema strings are Unicode scalar values, so they
# cannot be expressed here; the descriptions say so instead.
NO_NUL = "^[^\\x00]*$"

BEARER = [{"bearerAuth": []}]

RATE_HEADERS = {
    "X-RateLimit-Limit": {
        "description": "Requests allowed in the current window.",
        "schema": {"type": "string"},
    },
    "X-RateLimit-Remaining": {"description": "Requests left in the window.", "schema": {"type": "string"}},
    "X-RateLimit-Reset": {"description": "When the window resets (Unix time).", "schema": {"type": "string"}},
}
# The work budget (api/web/budget.py), on every predict answer and on its 429.
WORK_HEADERS = {
    "X-Work-Limit": {
        "description": "Work units (characters x models) of the token's budget in a window.",
        "schema": {"type": "string", "pattern": "^[0-9]+$"},
    },
    "X-Work-Remaining": {
        "description": "Work units left in the window.",
        "schema": {"type": "string", "pattern": "^[0-9]+$"},
    },
}
RETRY_AFTER = {
    "Retry-After": {
        "required": True,
        "description": "Seconds to wait before retrying.",
        "schema": {"type": "string", "pattern": "^[0-9]+$"},
    }
}


def _json(schema):
    """Wrap a schema as an application/json content map."""
    return {"application/json": {"schema": schema}}


def _error(status, codes, description, headers=None):
    """Return a response object: the shared Error shape, narrowed to one status and its codes."""
    narrowed = {
        "properties": {
            "error": {"properties": {"status": {"const": status}, "code": {"enum": codes}}},
        }
    }
    response = {
        "description": description,
        "content": _json({"allOf": [{"$ref": "#/components/schemas/Error"}, narrowed]}),
    }
    if headers:
        response["headers"] = headers
    return response


def _responses(settings):
    """Return the reusable responses: one per error the API answers with."""
    return {
        "InvalidRequest": _error(
            400,
            [
                "invalid_json",
                "invalid_body",
                "invalid_item",
                "too_many_items",
                "invalid_parameter",
                "malformed_body",
            ],
            "The body is not UTF-8 JSON, not an object of id -> tweet text, or breaks a limit; its chunked "
            "framing is broken; or a query parameter is unknown or has a wrong value. `key` names the key or "
            "parameter at fault.",
        ),
        "Unauthorized": _error(
            401,
            ["unauthorized"],
            "Missing, malformed, wrong or revoked bearer token.",
            headers={
                "WWW-Authenticate": {
                    "required": True,
                    "description": "The scheme to authenticate with.",
                    "schema": {"type": "string", "pattern": "^Bearer"},
                }
            },
        ),
        "TooLarge": _error(
            413,
            ["request_entity_too_large"],
            f"The body is over {settings.MAX_BODY_BYTES} bytes.",
        ),
        "UnsupportedMediaType": _error(
            415,
            ["unsupported_media_type"],
            "`Content-Type` is not `application/json` (UTF-8).",
        ),
        "RateLimited": _error(
            429,
            ["rate_limited"],
            "Over the request limit of this token (or of this client address, before authentication).",
            headers={**RETRY_AFTER, **RATE_HEADERS},
        ),
        "PredictLimited": _error(
            429,
            ["rate_limited", "work_limit_exceeded", "too_many_in_flight"],
            "Over the request limit, over the work budget (characters x models a window; "
            f"`{settings.WORK_LIMIT}`), or with {settings.MAX_IN_FLIGHT} requests of this token "
            "already being served by this worker. `Retry-After` says when it would fit.",
            headers={**RETRY_AFTER, **RATE_HEADERS},
        ),
        "PredictTooLarge": _error(
            413,
            ["request_entity_too_large", "work_too_large"],
            f"The body is over {settings.MAX_BODY_BYTES} bytes, or the request costs more work than a "
            f"whole window of the budget (`{settings.WORK_LIMIT}`): split it.",
        ),
        "NotReady": _error(503, ["not_ready"], "The model is not loaded yet."),
        "UriTooLong": _error(
            414, ["request_uri_too_long"], "The request line (path and query) is over 4094 bytes."
        ),
        "HistoryDisabled": _error(
            404, ["history_disabled"], "This server keeps no prediction history (`API_HISTORY_URL=none`)."
        ),
        "HistoryUnavailable": _error(
            503, ["history_unavailable"], "The prediction history database does not answer; retry later."
        ),
    }


def _schemas(settings, models):
    """Return the named schemas: request body, answers, and the shared Error shape."""
    key = {
        "type": "string",
        "minLength": 1,
        "maxLength": settings.MAX_KEY_CHARS,
        "pattern": NO_NUL,
    }
    return {
        "Tweets": {
            "type": "object",
            "description": "Tweets to label, by id. Keys and tweets must not contain NUL or lone surrogates.",
            "examples": [{"t1": "what a lovely day :)", "t2": "I hate mondays"}],
            "minProperties": 1,
            "maxProperties": settings.MAX_ITEMS,
            "propertyNames": key,
            "additionalProperties": {
                "type": "string",
                "maxLength": settings.MAX_TWEET_CHARS,
                "pattern": NO_NUL,
            },
        },
        "Labels": {
            "type": "object",
            "description": "One label per id of the request, in the request's order.",
            "examples": [{"t1": "Positive", "t2": "Negative"}],
            "minProperties": 1,
            "maxProperties": settings.MAX_ITEMS,
            "propertyNames": key,
            "additionalProperties": {"type": "string", "enum": ["Positive", "Negative"]},
        },
        "Scored": {
            "type": "object",
            "description": "With ?detail=true: the label and P(Positive), from the same log-odds.",
            "required": ["label", "score"],
            "additionalProperties": False,
            "properties": {
                "label": {"type": "string", "enum": ["Positive", "Negative"]},
                "score": {"type": "number", "minimum": 0, "maximum": 1},
            },
        },
        "DetailedLabels": _answers(settings, key, _ref("schemas", "Scored"), "One label and score per id."),
        "AllLabels": _answers(
            settings,
            key,
            _per_model(models, {"type": "string", "enum": ["Positive", "Negative"]}),
            "With ?model=all: every model's label per id.",
        ),
        "AllDetailed": _answers(
            settings,
            key,
            _per_model(models, _ref("schemas", "Scored")),
            "With ?model=all&detail=true: every model's label and score per id.",
        ),
        "ModelInfo": {
            "type": "object",
            "required": ["name", "version", "kind", "metrics", "training_data"],
            "properties": {
                "name": {"type": "string", "enum": models},
                "default": {"type": "boolean"},
                "version": {"type": "string"},
                "kind": {"type": "string"},
                "metrics": {
                    "type": "object",
                    "description": "Held-out metrics (accuracy, precision, recall, f1, roc_auc, ...).",
                    "required": ["accuracy"],
                    "properties": {"accuracy": {"type": "number", "minimum": 0, "maximum": 1}},
                },
                "training_data": {
                    "type": "object",
                    "required": ["sha256"],
                    "properties": {"sha256": {"type": "string", "pattern": "^[0-9a-f]{64}$"}},
                },
            },
        },
        "StoredPrediction": {
            "type": "object",
            "description": "One scored tweet of the prediction history: one row per tweet and model.",
            "required": ["id", "label", "score", "model", "version", "token", "created"],
            "additionalProperties": False,
            "properties": {
                "id": {"type": "string", "description": "The tweet's key in the predict request."},
                "label": {"type": "string", "enum": ["Positive", "Negative"]},
                "score": {"type": "number", "minimum": 0, "maximum": 1, "description": "P(Positive)."},
                "model": {"type": "string"},
                "version": {"type": "string"},
                "token": {
                    "type": "string",
                    "description": "The name of the token that asked (never the token).",
                },
                "created": {
                    "type": "string",
                    "format": "date-time",
                    "description": "When it was asked (UTC).",
                },
                "text": {
                    "type": "string",
                    "description": "The tweet, only if the server stores text (`API_HISTORY_TEXT=true`).",
                },
            },
        },
        "HistoryState": {
            "type": "object",
            "description": "enabled: the server keeps a history; ok: its last write succeeded (false: the"
            " database failed, predictions are still served); failures: failed batch writes; dropped:"
            " requests not recorded because the write queue was full.",
            "required": ["enabled", "ok", "failures", "dropped"],
            "properties": {
                "enabled": {"type": "boolean"},
                "ok": {"type": "boolean"},
                "failures": {"type": "integer", "minimum": 0},
                "dropped": {"type": "integer", "minimum": 0},
            },
        },
        "Error": {
            "type": "object",
            "required": ["error"],
            "additionalProperties": False,
            "properties": {
                "error": {
                    "type": "object",
                    "required": ["status", "code", "message"],
                    "additionalProperties": False,
                    "properties": {
                        "status": {"type": "integer", "minimum": 400, "maximum": 599},
                        "code": {"type": "string", "pattern": "^[a-z0-9_]+$"},
                        "message": {"type": "string"},
                        "key": {"type": "string", "description": "The key of the body at fault, if one is."},
                    },
                }
            },
        },
    }


def _answers(settings, key, value, description):
    """Return the schema of an answer object: the request's ids, each with ``value``."""
    return {
        "type": "object",
        "description": description,
        "minProperties": 1,
        "maxProperties": settings.MAX_ITEMS,
        "propertyNames": key,
        "additionalProperties": value,
    }


def _per_model(models, value):
    """Return the schema of ``{model name: value}`` for every served model."""
    return {
        "type": "object",
        "required": models,
        "additionalProperties": False,
        "properties": {name: value for name in models},
    }


def _ref(kind, name):
    """Return a $ref to a component."""
    return {"$ref": f"#/components/{kind}/{name}"}


def _ok(description, schema, headers=None):
    """Return a 200 response object with a JSON schema."""
    response = {"description": description, "content": _json(schema)}
    if headers:
        response["headers"] = headers
    return response


def _paths(models):
    """Return the path items: predictions, model information, probes and this document."""
    limited = {"401": _ref("responses", "Unauthorized"), "429": _ref("responses", "RateLimited")}
    return {
        "/api/v1/predict": {
            "post": {
                "operationId": "predict",
                "summary": "Label tweets Positive or Negative",
                "security": BEARER,
                "parameters": [
                    {
                        "name": "model",
                        "in": "query",
                        "description": "The model to answer with (default: the server's), or all of them.",
                        "schema": {"type": "string", "enum": [*models, "all"]},
                    },
                    {
                        "name": "detail",
                        "in": "query",
                        "description": "true: a label and P(Positive) per id instead of the bare label.",
                        "schema": {"type": "string", "enum": ["true", "false"], "default": "false"},
                    },
                    {
                        "name": "store",
                        "in": "query",
                        "description": "false: keep this request out of the prediction history.",
                        "schema": {"type": "string", "enum": ["true", "false"], "default": "true"},
                    },
                ],
                "requestBody": {"required": True, "content": _json(_ref("schemas", "Tweets"))},
                "responses": {
                    "200": _ok(
                        "A label for every id, same keys, same order (shape: see model and detail).",
                        {
                            "anyOf": [
                                _ref("schemas", name)
                                for name in ("Labels", "DetailedLabels", "AllLabels", "AllDetailed")
                            ]
                        },
                        {**RATE_HEADERS, **WORK_HEADERS},
                    ),
                    "400": _ref("responses", "InvalidRequest"),
                    **limited,
                    "429": _ref("responses", "PredictLimited"),
                    "413": _ref("responses", "PredictTooLarge"),
                    "414": _ref("responses", "UriTooLong"),
                    "415": _ref("responses", "UnsupportedMediaType"),
                },
            }
        },
        "/api/v1/predictions": {
            "get": {
                "operationId": "listPredictions",
                "summary": "The caller's stored predictions, newest first (all callers' for an admin)",
                "security": BEARER,
                "parameters": [
                    {
                        "name": "limit",
                        "in": "query",
                        "description": "How many rows at most.",
                        "schema": {"type": "integer", "minimum": 1, "maximum": 1000, "default": 50},
                    }
                ],
                "responses": {
                    "200": _ok(
                        "Stored predictions, newest first.",
                        {
                            "type": "object",
                            "required": ["predictions"],
                            "additionalProperties": False,
                            "properties": {
                                "predictions": {
                                    "type": "array",
                                    "maxItems": 1000,
                                    "items": _ref("schemas", "StoredPrediction"),
                                }
                            },
                        },
                        RATE_HEADERS,
                    ),
                    "400": _ref("responses", "InvalidRequest"),
                    **limited,
                    "404": _ref("responses", "HistoryDisabled"),
                    "414": _ref("responses", "UriTooLong"),
                    "503": _ref("responses", "HistoryUnavailable"),
                },
            }
        },
        "/api/v1/model": {
            "get": {
                "operationId": "modelInfo",
                "summary": "Describe the served model",
                "security": BEARER,
                "responses": {
                    "200": _ok("The served model.", _ref("schemas", "ModelInfo"), RATE_HEADERS),
                    **limited,
                },
            }
        },
        "/api/v1/models": {
            "get": {
                "operationId": "listModels",
                "summary": "List the served models with their held-out metrics",
                "security": BEARER,
                "responses": {
                    "200": _ok(
                        "Every served model; `default` names the one used without ?model.",
                        {
                            "type": "object",
                            "required": ["models", "default"],
                            "properties": {
                                "models": {"type": "array", "items": _ref("schemas", "ModelInfo")},
                                "default": {"type": "string", "enum": models},
                            },
                        },
                        RATE_HEADERS,
                    ),
                    **limited,
                },
            }
        },
        "/api/v1/openapi.json": {
            "get": {
                "operationId": "openapi",
                "summary": "This document",
                "responses": {
                    "200": _ok(
                        "The OpenAPI 3.1 description of this server.",
                        {"type": "object", "required": ["openapi", "info", "paths"]},
                        RATE_HEADERS,
                    ),
                    "429": _ref("responses", "RateLimited"),
                },
            }
        },
        "/healthz": {
            "get": {
                "operationId": "healthz",
                "summary": "Liveness: the process answers (no auth, no rate limit)",
                "responses": {
                    "200": _ok(
                        "Alive.",
                        {
                            "type": "object",
                            "required": ["status"],
                            "properties": {"status": {"const": "ok"}},
                        },
                    )
                },
            }
        },
        "/readyz": {
            "get": {
                "operationId": "readyz",
                "summary": "Readiness: the model is loaded and verified (no auth, no rate limit)",
                "responses": {
                    "200": _ok(
                        "Ready to predict.",
                        {
                            "type": "object",
                            "required": ["status", "model", "version", "rate_limit_storage", "history"],
                            "properties": {
                                "status": {"const": "ready"},
                                "model": {"type": "string"},
                                "version": {"type": "string"},
                                "models": {"type": "array", "items": {"type": "string", "enum": models}},
                                "rate_limit_storage": {
                                    "type": "object",
                                    "description": "shared: limits are counted in the configured storage;"
                                    " false while a worker falls back to its own memory",
                                    "required": ["shared", "fallbacks"],
                                    "properties": {
                                        "shared": {"type": "boolean"},
                                        "fallbacks": {"type": "integer", "minimum": 0},
                                    },
                                },
                                "history": _ref("schemas", "HistoryState"),
                            },
                        },
                    ),
                    "503": _ref("responses", "NotReady"),
                },
            }
        },
    }


def build_spec(settings, models):
    """Return the OpenAPI 3.1 document, as a dict, for an app with ``settings`` serving ``models``."""
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Sentiment API",
            "version": "1.0.0",
            "description": (
                "Labels tweets Positive or Negative. Every error is JSON of one shape (`Error`). "
                "An unknown path answers 404 `not_found`; a method a path does not have answers 405 "
                "`method_not_allowed` with `Allow`."
            ),
        },
        "paths": _paths(models),
        "components": {
            "securitySchemes": {
                "bearerAuth": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "A token from `make token`.",
                }
            },
            "schemas": _schemas(settings, models),
            "responses": _responses(settings),
        },
    }
