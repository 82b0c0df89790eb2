"""The shapes of feedback, live accuracy and drift (api/web/feedback.py), declared once for the document."""

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, RootModel, StringConstraints

from api.web.shapes import NO_NUL, Label, TweetLimits


def feedback_body(limits: TweetLimits) -> type[BaseModel]:
    """Declare the body of a feedback request within ``limits``: ids as a predict body's keys."""
    Key = Annotated[str, StringConstraints(min_length=1, max_length=limits.max_key_chars, pattern=NO_NUL)]

    class Feedback(RootModel[Annotated[dict[Key, Label], Field(min_length=1, max_length=limits.max_items)]]):
        """The true label of tweets the caller's token scored, by the id the predict request gave them."""

        model_config = ConfigDict(json_schema_extra={"examples": [{"t1": "Positive", "t2": "Negative"}]})

    return Feedback


class Recorded(BaseModel):
    """The feedback was stored: one row per model that had answered each id."""

    model_config = ConfigDict(extra="forbid")
    recorded: int = Field(ge=1, description="How many ids' labels were recorded.")


class Accuracy(BaseModel):
    """Live accuracy of one model and version."""

    model_config = ConfigDict(extra="forbid")
    model: str
    version: str
    feedback: int = Field(ge=1, description="Feedback rows in the window.")
    accuracy: float = Field(ge=0, le=1, description="Share of them whose true label the model gave.")


class LiveAccuracy(BaseModel):
    """Live accuracy per model and version, over the newest `window` feedback rows of each."""

    model_config = ConfigDict(extra="forbid")
    window: int = Field(ge=1, description="`API_FEEDBACK_WINDOW`.")
    models: list[Accuracy]
