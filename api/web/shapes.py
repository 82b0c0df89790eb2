"""The shapes of the API's bodies and queries, each declared once as a pydantic model.

The OpenAPI document (api/web/openapi.py) is generated from these declarations, and the limits in
them are the very numbers the request checks enforce (TweetLimits, api/web/validation.py).
Shapes that depend on an app (its limits, its models' names) are declared by ``declare``.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from types import MappingProxyType
from typing import Annotated, Any, Literal, TypeVar, get_args

from pydantic import BaseModel, ConfigDict, Field, GetCoreSchemaHandler, RootModel, StringConstraints
from pydantic.json_schema import SkipJsonSchema
from pydantic_core import CoreSchema, core_schema

from api.settings import Settings
from api.web.driftshapes import DriftState
from api.web.explainshapes import Explanation
from api.web.readyshapes import HistoryState, JobsState, StorageState
from model.serving.explain import DEFAULT_TOP
from model.serving.labels import LABELS
from model.serving.registry import ALL

# NUL is refused in keys and tweets (api/web/validation.py). Lone surrogates are refused too, but
# JSON Schema strings are Unicode scalar values, so they cannot be expressed here; descriptions say so.
NO_NUL = "^[^\\x00]*$"
# The values of ?detail= and ?store=, and what they mean.
BOOLEANS = MappingProxyType({"true": True, "false": False})
HISTORY_LIMIT_DEFAULT = 50
HISTORY_LIMIT_MAX = 1000
# The largest ?before= of /api/v1/predictions: SQLite's largest row id (its driver takes no larger integer).
HISTORY_BEFORE_MAX = 2**63 - 1

V = TypeVar("V")


@dataclass(frozen=True)
class TweetLimits:
    """The limits of a predict body: what check_tweets enforces and what the document states."""

    max_items: int
    max_tweet_chars: int
    max_key_chars: int

    @classmethod
    def of(cls, settings: Settings) -> "TweetLimits":
        """Return the limits ``settings`` set."""
        return cls(settings.MAX_ITEMS, settings.MAX_TWEET_CHARS, settings.MAX_KEY_CHARS)


@dataclass(frozen=True)
class OneOf:
    """Marks a str as one of ``values``, stated elsewhere (labels, the models' names): a JSON Schema enum."""

    values: tuple[str, ...]

    def __get_pydantic_core_schema__(self, source: Any, handler: GetCoreSchemaHandler) -> CoreSchema:
        """Accept exactly the values."""
        return core_schema.literal_schema(list(self.values))


@dataclass(frozen=True)
class EveryKey:
    """Marks a ``dict[str, V]`` as an object with exactly the keys ``names``, each a V."""

    names: tuple[str, ...]

    def __get_pydantic_core_schema__(self, source: Any, handler: GetCoreSchemaHandler) -> CoreSchema:
        """Require every name, refuse any other key."""
        value = handler.generate_schema(get_args(source)[1])
        fields = {name: core_schema.typed_dict_field(value) for name in self.names}
        return core_schema.typed_dict_schema(fields, extra_behavior="forbid")


Label = Annotated[str, OneOf(LABELS)]
Score = Annotated[float, Field(ge=0, le=1)]
Boolean = Annotated[str, OneOf(tuple(BOOLEANS))]


class Scored(BaseModel):
    """With ?detail=true: the label and P(Positive), from the same log-odds."""

    model_config = ConfigDict(extra="forbid")
    label: Label
    score: Score


class Explained(BaseModel):
    """With ?explain=true: the label and P(Positive), as with ?detail=true, and why."""

    model_config = ConfigDict(extra="forbid")
    label: Label
    score: Score
    explanation: Explanation


class Metrics(BaseModel):
    """Held-out metrics (accuracy, precision, recall, f1, roc_auc, ...)."""

    accuracy: Score


class TrainingData(BaseModel):
    """The data the model was trained on."""

    sha256: Annotated[str, StringConstraints(pattern="^[0-9a-f]{64}$")]


class StoredPrediction(BaseModel):
    """One scored tweet of the prediction history: one row per tweet and model."""

    model_config = ConfigDict(extra="forbid")
    id: str = Field(description="The tweet's key in the predict request.")
    label: Label
    score: Score = Field(description="P(Positive).")
    model: str
    version: str
    token: str = Field(description="The name of the token that asked (never the token).")
    created: datetime = Field(description="When it was asked (UTC).")
    # Optional, never null: None is only how pydantic spells "absent".
    text: str | SkipJsonSchema[None] = Field(
        None, description="The tweet, only if the server stores text (`API_HISTORY_TEXT=true`)."
    )


class Predictions(BaseModel):
    """Stored predictions, newest first."""

    model_config = ConfigDict(extra="forbid")
    predictions: list[StoredPrediction] = Field(max_length=HISTORY_LIMIT_MAX)
    next: Annotated[int, Field(ge=1)] | None = Field(
        description="The cursor of the following page, to send as `before`: the last row's stored id (the"
        " order rows were stored in; not the tweet's `id`). null on the last page."
    )


class PredictionsQuery(BaseModel):
    """The query of /api/v1/predictions."""

    limit: int = Field(
        HISTORY_LIMIT_DEFAULT, ge=1, le=HISTORY_LIMIT_MAX, description="How many rows at most."
    )
    before: Annotated[int, Field(ge=1, le=HISTORY_BEFORE_MAX)] | SkipJsonSchema[None] = Field(
        None,
        description="A cursor: only rows stored before this one, the `next` of the previous page"
        " (default: from the newest row).",
    )


class ErrorDetail(BaseModel):
    """What went wrong: the HTTP status, a code to act on, and a message for people."""

    model_config = ConfigDict(extra="forbid")
    status: int = Field(ge=400, le=599)
    code: str = Field(pattern="^[a-z0-9_]+$")
    message: str
    key: str | SkipJsonSchema[None] = Field(None, description="The key of the body at fault, if one is.")


class Error(BaseModel):
    """Every error of every layer (the server, the app and its extensions), in one shape."""

    model_config = ConfigDict(extra="forbid")
    error: ErrorDetail


class Alive(BaseModel):
    """The process answers."""

    status: Literal["ok"]


class Document(BaseModel):
    """The OpenAPI 3.1 description of this server."""

    openapi: str
    info: dict[str, Any]
    paths: dict[str, Any]


@dataclass(frozen=True)
class Shapes:
    """The shapes of one app, whose limits and model names they carry."""

    tweets: type[BaseModel]
    answers: type[BaseModel]
    model_info: type[BaseModel]
    models: type[BaseModel]
    ready: type[BaseModel]
    predict_query: type[BaseModel]


def declare(limits: TweetLimits, models: Sequence[str]) -> Shapes:
    """Declare the shapes of an app with ``limits`` serving ``models`` (their names)."""
    return Shapes(*_bodies(limits, tuple(models)), *_descriptions(tuple(models)))


def _bodies(limits: TweetLimits, models: tuple[str, ...]) -> tuple[type[BaseModel], type[BaseModel]]:
    """Declare the body of a predict request and its answers, within ``limits``."""
    Key = Annotated[str, StringConstraints(min_length=1, max_length=limits.max_key_chars, pattern=NO_NUL)]
    # Every body of tweets and every answer to one: the request's ids, each with a V.
    ById = Annotated[dict[Key, V], Field(min_length=1, max_length=limits.max_items)]
    Tweet = Annotated[str, StringConstraints(max_length=limits.max_tweet_chars, pattern=NO_NUL)]

    class Tweets(RootModel[ById[Tweet]]):
        """Tweets to label, by id. Keys and tweets must not contain NUL or lone surrogates."""

        model_config = ConfigDict(
            json_schema_extra={"examples": [{"t1": "what a lovely day :)", "t2": "I hate mondays"}]}
        )

    class Labels(RootModel[ById[Label]]):
        """One label per id of the request, in the request's order."""

        model_config = ConfigDict(json_schema_extra={"examples": [{"t1": "Positive", "t2": "Negative"}]})

    class DetailedLabels(RootModel[ById[Scored]]):
        """One label and score per id."""

    class AllLabels(RootModel[ById[Annotated[dict[str, Label], EveryKey(models)]]]):
        """With ?model=all: every model's label per id."""

    class AllDetailed(RootModel[ById[Annotated[dict[str, Scored], EveryKey(models)]]]):
        """With ?model=all&detail=true: every model's label and score per id."""

    class ExplainedLabels(RootModel[ById[Explained]]):
        """With ?explain=true: one label, score and explanation per id."""

    class AllExplained(RootModel[ById[Annotated[dict[str, Explained], EveryKey(models)]]]):
        """With ?model=all&explain=true: every model's label, score and explanation per id."""

    class Answers(
        RootModel[Labels | DetailedLabels | AllLabels | AllDetailed | ExplainedLabels | AllExplained]
    ):
        """A label for every id, same keys, same order (shape: see model, detail and explain)."""

    return Tweets, Answers


def _descriptions(
    models: tuple[str, ...],
) -> tuple[type[BaseModel], type[BaseModel], type[BaseModel], type[BaseModel]]:
    """Declare what names the served ``models``: their descriptions, readiness, and the predict query."""
    ModelName = Annotated[str, OneOf(models)]

    class ModelInfo(BaseModel):
        """The served model."""

        name: ModelName
        default: bool | SkipJsonSchema[None] = None
        version: str
        kind: str
        metrics: Metrics
        training_data: TrainingData

    class Models(BaseModel):
        """Every served model; `default` names the one used without ?model."""

        models: list[ModelInfo]
        default: ModelName

    class Ready(BaseModel):
        """Ready to predict."""

        status: Literal["ready"]
        model: str
        version: str
        models: list[ModelName]
        versions: dict[ModelName, str] = Field(description="Each served model's version in this worker.")
        rate_limit_storage: StorageState
        history: HistoryState
        jobs: JobsState
        drift: list[DriftState] = Field(description="Per served model with a reference: a warning only.")

    class PredictQuery(BaseModel):
        """The query of /api/v1/predict."""

        model: Annotated[str, OneOf((*models, ALL))] | SkipJsonSchema[None] = Field(
            None, description="The model to answer with (default: the server's), or all of them."
        )
        detail: Boolean = Field(
            "false", description="true: a label and P(Positive) per id instead of the bare label."
        )
        store: Boolean = Field("true", description="false: keep this request out of the prediction history.")
        explain: Boolean = Field(
            "false",
            description="true: the label, P(Positive) and an explanation per id (whatever detail says):"
            " every word that moved the log-odds with its exact contribution, the top"
            f" {DEFAULT_TOP} each way, and the rest. Charged more than plain scoring (the work budget).",
        )

    return ModelInfo, Models, Ready, PredictQuery
