"""The errors a job request can end in, each a JSON answer with its own code and status (api/errors.py).

Their messages name limits, parameters and row numbers, never the uploaded text.
"""

from api.errors import APIError


class UploadTooLarge(APIError, code="upload_too_large", status=413):
    """The upload is larger than API_JOBS_MAX_UPLOAD_BYTES."""


class TooManyRows(APIError, code="too_many_rows", status=413):
    """The upload has more rows than API_JOBS_MAX_ROWS."""


class BadUpload(APIError, code="bad_upload"):
    """The upload cannot be read as the CSV or NDJSON it claims to be; the message names the row."""


class UnsupportedUpload(APIError, code="unsupported_upload", status=415):
    """The upload's Content-Type is neither CSV nor NDJSON (or not UTF-8)."""


class InsufficientStorage(APIError, code="insufficient_storage", status=507):
    """Storing the upload would leave less than API_JOBS_MIN_FREE_BYTES free on the jobs' disk."""


class TooManyJobs(APIError, code="too_many_jobs", status=429):
    """The token already has API_JOBS_MAX_ACTIVE jobs queued or running."""


class JobNotFound(APIError, code="job_not_found", status=404):
    """No such job, or another token's: the two answer alike, so job ids cannot be probed."""


class JobNotFinished(APIError, code="job_not_finished", status=409):
    """The job has no result: it has not succeeded (yet)."""


class JobsUnavailable(APIError, code="jobs_unavailable", status=503):
    """The job store's database does not answer."""


class QueueUnavailable(APIError, code="queue_unavailable", status=503):
    """The job queue's broker does not take the job's tasks; the job was not kept."""
