"""CCP's domain errors, one class per kind, each carrying how the API shows it.

Modelled on Werkzeug's `exceptions.py`: code anywhere raises an error by name
(`raise NoSuchJob(job_id)`), and `ccp.app` renders every one of them in a single handler as an
OGC exception document (type, title, status, detail). Nothing below the HTTP edge builds
responses.
"""

from __future__ import annotations

from typing import Any

OGC_EXCEPTIONS = "http://www.opengis.net/def/exceptions/ogcapi-processes-1/1.0/"
OGC_PART2_EXCEPTIONS = "http://www.opengis.net/def/exceptions/ogcapi-processes-2/1.0/"
OGC_PART4_EXCEPTIONS = "http://www.opengis.net/def/exceptions/ogcapi-processes-4/1.0/"
CCP_EXCEPTIONS = "https://ccp.example.org/exceptions/"


class CCPError(Exception):
    """Base of every error the API shows to a client."""

    status: int = 500
    title: str = "Internal server error"
    type: str = f"{CCP_EXCEPTIONS}internal-server-error"

    def __init__(self, detail: str, *, title: str | None = None, type_: str | None = None,
                 headers: dict[str, str] | None = None, **extra: Any) -> None:
        super().__init__(detail)
        self.detail = detail
        if title is not None:
            self.title = title
        if type_ is not None:
            self.type = type_
        self.headers = dict(headers or {})
        self.extra = extra

    def to_dict(self) -> dict[str, Any]:
        return {"type": self.type, "title": self.title, "status": self.status,
                "detail": self.detail, **self.extra}


# --- 400 -------------------------------------------------------------------------------------

class InvalidParameter(CCPError):
    status = 400
    title = "Invalid parameter value"
    type = f"{OGC_EXCEPTIONS}invalid-parameter-value"


class MissingParameter(InvalidParameter):
    title = "Missing parameter value"
    type = f"{OGC_EXCEPTIONS}missing-parameter-value"


class InvalidMethod(InvalidParameter):
    title = "Invalid method"
    type = f"{CCP_EXCEPTIONS}invalid-method"

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems), problems=problems)


class OutboundRefused(InvalidParameter):
    """The outbound policy: a URL the server will not fetch or call for a user."""

    title = "Outbound request refused"
    type = f"{CCP_EXCEPTIONS}outbound-policy"


class InvalidArchive(InvalidParameter):
    title = "Invalid archive"
    type = f"{CCP_EXCEPTIONS}invalid-archive"


# --- 401 / 403 ---------------------------------------------------------------------------------

class Unauthorized(CCPError):
    status = 401
    title = "Unauthorized"
    type = f"{CCP_EXCEPTIONS}unauthorized"

    def __init__(self, detail: str) -> None:
        super().__init__(detail, headers={"WWW-Authenticate": 'Bearer realm="ccp"'})


class Forbidden(CCPError):
    status = 403
    title = "Forbidden"
    type = f"{CCP_EXCEPTIONS}forbidden"


class ReadOnlyMethod(Forbidden):
    """Part 2: a process that is not mutable (CCP: loaded from the methods folder)."""

    title = "Read-only method"
    type = f"{OGC_PART2_EXCEPTIONS}immutable-process"


class NotAllowedHere(Forbidden):
    """The deploy policy: this role may not deploy, or not run user Methods on this
    Infrastructure."""

    title = "Not allowed on this infrastructure"
    type = f"{CCP_EXCEPTIONS}deploy-policy"


class StorageQuotaExceeded(Forbidden):
    title = "Storage quota exceeded"
    type = f"{CCP_EXCEPTIONS}storage-quota"


# --- 404 ---------------------------------------------------------------------------------------

class NotFound(CCPError):
    status = 404
    title = "Not found"
    type = f"{CCP_EXCEPTIONS}not-found"


class NoSuchProcess(NotFound):
    title = "No such process"
    type = f"{OGC_EXCEPTIONS}no-such-process"

    def __init__(self, process_id: str) -> None:
        super().__init__(f"there is no process '{process_id}'")


class NoSuchJob(NotFound):
    title = "No such job"
    type = f"{OGC_EXCEPTIONS}no-such-job"

    def __init__(self, job_id: str) -> None:
        super().__init__(f"there is no job '{job_id}'")


class ResultNotReady(NotFound):
    title = "Result not ready"
    type = f"{OGC_EXCEPTIONS}result-not-ready"


class NotAcceptable(CCPError):
    status = 406
    title = "Not acceptable"
    type = f"{CCP_EXCEPTIONS}not-acceptable"


# --- 409 / 413 / 415 / 422 / 423 / 429 -----------------------------------------------------------

class Conflict(CCPError):
    status = 409
    title = "Conflict"
    type = f"{CCP_EXCEPTIONS}conflict"


class FeatureUnavailable(Conflict):
    """The Infrastructure's manifest does not offer this feature (suspend, extend, ...)."""

    title = "Feature not available"
    type = f"{CCP_EXCEPTIONS}feature-not-available"

    def __init__(self, detail: str, feature: str) -> None:
        super().__init__(detail, feature=feature)


class DuplicateProcess(Conflict):
    title = "Duplicate process"
    type = f"{OGC_PART2_EXCEPTIONS}duplicated-process"


class PayloadTooLarge(CCPError):
    status = 413
    title = "Payload too large"
    type = f"{CCP_EXCEPTIONS}payload-too-large"


class UnsupportedMediaType(CCPError):
    """A body of a kind this server does not take: a deploy body or execution unit it does
    not run (Part 2), a job definition it cannot read (Part 4)."""

    status = 415
    title = "Unsupported media type"
    type = f"{OGC_PART2_EXCEPTIONS}unsupported-media-type"


class UnsupportedSchema(CCPError):
    status = 422
    title = "Unsupported schema"
    type = f"{OGC_PART4_EXCEPTIONS}unsupported-schema"


class Locked(CCPError):
    """Part 4: a job that has started can no longer be changed or started again."""

    status = 423
    title = "Locked"
    type = f"{OGC_PART4_EXCEPTIONS}locked"


class TooManyJobs(CCPError):
    status = 429
    title = "Too many executions"
    type = f"{CCP_EXCEPTIONS}too-many-executions"

    def __init__(self, detail: str, retry_after: int) -> None:
        super().__init__(detail, headers={"Retry-After": str(retry_after)})


class APIError(CCPError):
    """An error with its status given at the raise site (for the rare one-off)."""

    def __init__(self, status: int, title: str, detail: str, type_: str | None = None,
                 **extra: Any) -> None:
        self.status = status
        super().__init__(detail, title=title,
                         type_=type_ or f"{CCP_EXCEPTIONS}{title.lower().replace(' ', '-')}",
                         **extra)


def no_such_process(process_id: str) -> NoSuchProcess:
    return NoSuchProcess(process_id)


def no_such_job(job_id: str) -> NoSuchJob:
    return NoSuchJob(job_id)


def bad_request(detail: str, title: str = "Invalid parameter value") -> InvalidParameter:
    return InvalidParameter(detail, title=title)
