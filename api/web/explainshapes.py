"""The explanation object of ``?explain=true`` (api/web/explaining.py), declared for the OpenAPI document."""

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from model.serving.explain import DEFAULT_TOP


class Contribution(BaseModel):
    """A word as the tweet wrote it, and what it added to the log-odds of Positive."""

    model_config = ConfigDict(extra="forbid")
    word: str
    contribution: float


Top = Annotated[list[Contribution], Field(max_length=DEFAULT_TOP)]


class Rest(BaseModel):
    """The parts of the log-odds tied to no word of the tweet."""

    model_config = ConfigDict(extra="forbid")
    intercept: float = Field(description="The model's intercept.")
    other: float = Field(description="Features tied to no single word (the tweet's length, say).")


class Explanation(BaseModel):
    """Why the model answered so: the words' contributions and the rest add up to ``log_odds`` (to 1e-9)."""

    model_config = ConfigDict(extra="forbid")
    log_odds: float = Field(description="The log-odds of Positive; the score is its sigmoid.")
    words: list[Contribution] = Field(
        description="Every word that moved the log-odds, in the tweet's order, as written (words may repeat)."
    )
    top_positive: Top = Field(description="The words that raised it most, largest first (contribution > 0).")
    top_negative: Top = Field(description="The words that lowered it most, most negative first (< 0).")
    rest: Rest
