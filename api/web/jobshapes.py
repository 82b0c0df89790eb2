"""The shapes of the job API (api/web/jobs.py): a job's JSON, the list of them, the submission's query.

Declared once, here, for the OpenAPI document (api/web/openapi.py); the states, formats and the
bound on errors are the job model's own (api/jobs/jobs.py), never restated.
"""

from collections.abc import Sequence
from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field
from pydantic.json_schema import SkipJsonSchema

from api.jobs import files
from api.jobs.jobs import FORMATS, JOBS_PATH, MAX_ERRORS, MEDIA_TYPES, NDJSON_ALIASES, STATES
from api.jobs.schema import COLUMN_CHARS
from api.jobs.service import SubmitParams
from api.web.shapes import Boolean, OneOf

# A job's id (uuid4().hex, made by the server), and its URL, as JSON Schema patterns.
JOB_ID = f"^{files.JOB_ID.pattern}$"
JOB_URL = f"^{JOBS_PATH}/{files.JOB_ID.pattern}$"
# The query parameters of a submission: the service's options, by the same names, and their defaults.
SUBMIT_PARAMETERS = tuple(SubmitParams.__dataclass_fields__)
DEFAULTS = SubmitParams()
DEFAULT_DETAIL = str(DEFAULTS.detail).lower()

# A small upload of each format, by media type, as the document shows it (and schemathesis sends it first).
_CSV_EXAMPLE = "id,text\nt1,what a lovely day :)\nt2,I hate mondays\n"
_NDJSON_EXAMPLE = '{"id": "t1", "text": "what a lovely day :)"}\n{"id": "t2", "text": "I hate mondays"}\n'
UPLOAD_EXAMPLES = {
    MEDIA_TYPES["csv"]: _CSV_EXAMPLE,
    MEDIA_TYPES["ndjson"]: _NDJSON_EXAMPLE,
    **dict.fromkeys(NDJSON_ALIASES, _NDJSON_EXAMPLE),
}

Rate = Annotated[float, Field(ge=0)]


class JobRows(BaseModel):
    """Rows of the upload: scored so far, and in all."""

    model_config = ConfigDict(extra="forbid")
    done: int = Field(ge=0)
    total: int = Field(ge=0)


class Job(BaseModel):
    """A job: its state, progress, options, times (UTC), first errors, and its result once it succeeded."""

    model_config = ConfigDict(extra="forbid")
    id: str = Field(pattern=JOB_ID, description="The job's id: its URL is /api/v1/jobs/{id}.")
    state: Annotated[str, OneOf(STATES)] = Field(
        description="queued and running are active; succeeded, failed and cancelled are final."
    )
    model: str = Field(description="The model that scores the rows.")
    model_version: str
    format: Annotated[str, OneOf(FORMATS)] = Field(description="The result's format.")
    detail: bool = Field(description="The result carries the score, P(Positive), besides the label.")
    rows: JobRows
    rows_per_second: Rate | None = Field(description="Rows scored per second since it started; null before.")
    seconds_left: Rate | None = Field(description="Estimated time left at that rate; null without one.")
    created: datetime
    started: datetime | None
    finished: datetime | None
    expires: datetime = Field(description="When the job, its upload and its result are deleted.")
    errors: list[str] = Field(
        max_length=MAX_ERRORS, description="The first errors, naming rows (never their text)."
    )
    result: str | None = Field(description="Where to download the result once the job succeeded.")


class Jobs(BaseModel):
    """The caller's jobs, newest first (every caller's for an admin token)."""

    model_config = ConfigDict(extra="forbid")
    jobs: list[Job]


def submit_query(models: Sequence[str]) -> type[BaseModel]:
    """Declare the query of a submission to a server serving ``models`` (their names)."""
    ModelName = Annotated[str, OneOf(tuple(models))]
    Format = Annotated[str, OneOf(FORMATS)]

    class SubmitQuery(BaseModel):
        """The query of POST /api/v1/jobs: the options of `python -m model score`."""

        model: ModelName | SkipJsonSchema[None] = Field(
            None, description="The model to score with (default: the server's)."
        )
        detail: Boolean = Field(DEFAULT_DETAIL, description="false: the label only, without the score.")
        text_column: str = Field(
            DEFAULTS.text_column,
            min_length=1,
            max_length=COLUMN_CHARS,
            description="The CSV column (NDJSON key) holding the tweets.",
        )
        id_column: str = Field(
            DEFAULTS.id_column,
            min_length=1,
            max_length=COLUMN_CHARS,
            description="The column (key) holding the ids; absent from the file: the row numbers.",
        )
        format: Format | SkipJsonSchema[None] = Field(
            None, description="The result's format (default: the upload's)."
        )

    return SubmitQuery
