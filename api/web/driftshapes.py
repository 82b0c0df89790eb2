"""The drift of /readyz (api/history/monitor.py), declared once for the OpenAPI document."""

from pydantic import BaseModel, ConfigDict, Field
from pydantic.json_schema import SkipJsonSchema

from api.history.monitor import Status


class DriftState(BaseModel):
    """One served model's drift window, as /readyz reports it; its statistics only once it is full enough."""

    model_config = ConfigDict(extra="forbid")
    model: str
    version: str
    rows: int = Field(ge=0, description="Stored predictions in the window.")
    # Optional, never null: None is only how pydantic spells "absent".
    psi: float | SkipJsonSchema[None] = Field(
        None, ge=0, description="Population stability index of P(Positive) against the held-out split."
    )
    unknown_share: float | SkipJsonSchema[None] = Field(
        None, ge=0, le=1, description="Mean share of unknown tokens over the window's sampled tweets."
    )
    reference_unknown_share: float | SkipJsonSchema[None] = Field(
        None, ge=0, le=1, description="The same over the held-out split."
    )
    status: Status | SkipJsonSchema[None] = Field(
        None, description="alert: PSI or unknown share past its alert threshold; warning: PSI past its own."
    )
