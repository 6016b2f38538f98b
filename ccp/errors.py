"""Errors the API turns into OGC exception documents (type, title, status, detail)."""

from __future__ import annotations

OGC_EXCEPTIONS = "http://www.opengis.net/def/exceptions/ogcapi-processes-1/1.0/"


class APIError(Exception):
    def __init__(self, status: int, title: str, detail: str, type_: str | None = None,
                 **extra: object) -> None:
        super().__init__(detail)
        self.extra = extra
        self.status = status
        self.title = title
        self.detail = detail
        self.type = type_ or f"{OGC_EXCEPTIONS}{title.lower().replace(' ', '-')}"

    def to_dict(self) -> dict:
        return {"type": self.type, "title": self.title, "status": self.status,
                "detail": self.detail, **self.extra}


def no_such_process(process_id: str) -> APIError:
    return APIError(404, "No such process", f"there is no process '{process_id}'",
                    f"{OGC_EXCEPTIONS}no-such-process")


def no_such_job(job_id: str) -> APIError:
    return APIError(404, "No such job", f"there is no job '{job_id}'",
                    f"{OGC_EXCEPTIONS}no-such-job")


def bad_request(detail: str, title: str = "Invalid parameter value") -> APIError:
    return APIError(400, title, detail)
