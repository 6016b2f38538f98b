"""Following one CCP job from QGIS: progress, the live log, cancel, and what it produced."""

from __future__ import annotations

import time
from typing import Any

from qgis.core import QgsProcessingException, QgsProcessingFeedback

from .client import FINAL_STATUSES, CCPError, Client

POLL_SECONDS = 0.5


def link(job: dict[str, Any], rel: str) -> str | None:
    for entry in job.get("links") or []:
        if isinstance(entry, dict) and entry.get("rel") == rel:
            return entry.get("href")
    return None


class LogTail:
    """Shows the job's log in the feedback panel, each line once."""

    def __init__(self, client: Client, job_id: str, feedback: QgsProcessingFeedback) -> None:
        self.client, self.job_id, self.feedback = client, job_id, feedback
        self.shown = 0

    def show_new(self) -> None:
        try:
            text = self.client.logs(self.job_id)
        except CCPError:
            return  # the log is a courtesy: the job's status decides
        if len(text) <= self.shown:
            return
        new, self.shown = text[self.shown:], len(text)
        for line in new.rstrip("\n").split("\n"):
            self.feedback.pushConsoleInfo(line)


def follow(client: Client, job_id: str, feedback: QgsProcessingFeedback) -> dict[str, Any]:
    """Poll the job until it ends; a cancel in QGIS dismisses it (DELETE) and raises."""
    log = LogTail(client, job_id, feedback)
    while True:
        job = client.job(job_id)
        log.show_new()
        if isinstance(job.get("progress"), (int, float)):
            feedback.setProgress(job["progress"])
        feedback.setProgressText(f"{job['status']}: {job.get('message') or ''}".strip(": "))
        if job["status"] in FINAL_STATUSES:
            return job
        if _cancelled_while_waiting(feedback, POLL_SECONDS):
            dismiss(client, job_id, feedback, log)


def _cancelled_while_waiting(feedback: QgsProcessingFeedback, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if feedback.isCanceled():
            return True
        time.sleep(0.05)
    return feedback.isCanceled()


def dismiss(client: Client, job_id: str, feedback: QgsProcessingFeedback, log: LogTail) -> None:
    # A job that has just ended is left alone: DELETE would delete it with its archive.
    if client.job(job_id)["status"] not in FINAL_STATUSES:
        feedback.pushInfo(f"Cancelling: dismissing CCP job {job_id} (DELETE)")
        job = client.dismiss(job_id)
        log.show_new()
        raise QgsProcessingException(
            f"Cancelled: CCP job {job_id} is {job['status']} ({job.get('message') or ''})")
    raise QgsProcessingException(f"Cancelled: CCP job {job_id} had already ended")


def failure(client: Client, job: dict[str, Any]) -> QgsProcessingException:
    """The exception for a job that failed or was dismissed, with its message and log URL."""
    logs = link(job, "logs") or f"{client.job_url(job['jobID'])}/logs"
    return QgsProcessingException(
        f"CCP job {job['jobID']} {job['status']}: {job.get('message') or 'no message'}\n"
        f"Log: {logs}")
