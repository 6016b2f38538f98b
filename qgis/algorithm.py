"""One CCP Method as a QGIS Processing algorithm: submit, follow, unpack, load the layers."""

from __future__ import annotations

import html
import json
import re
import tempfile
import zipfile
from pathlib import Path
from typing import Any

from qgis.core import (
    QgsProcessing,
    QgsProcessingAlgorithm,
    QgsProcessingContext,
    QgsProcessingException,
    QgsProcessingFeedback,
    QgsProcessingOutputMultipleLayers,
    QgsProcessingOutputRasterLayer,
    QgsProcessingOutputString,
    QgsProcessingOutputVectorLayer,
    QgsProcessingParameterFolderDestination,
    QgsProcessingUtils,
)

from . import jobs, manifest, mapping, outputs
from .client import CCPError, Client
from .servers import Server

OUTPUT_FOLDER = "OUTPUT_FOLDER"
LAYERS = "LAYERS"
LINK_OUTPUTS = {"JOB_ID": "Job id", "JOB_URL": "Job status URL", "LOG_URL": "Log URL",
                "ARCHIVE_URL": "Execution archive URL", "PROVENANCE_URL": "Provenance URL"}


def category(description: dict[str, Any]) -> str:
    """The Method's category (metadata role 'category'), else its first keyword."""
    for entry in description.get("metadata") or []:
        if isinstance(entry, dict) and entry.get("role") == "category" and entry.get("title"):
            return str(entry["title"])
    keywords = description.get("keywords") or []
    return str(keywords[0]).capitalize() if keywords else "Other"


def infrastructure_of(description: dict[str, Any]) -> str:
    for entry in description.get("links") or []:
        if isinstance(entry, dict) and entry.get("rel") == "compatibleWith":
            return str(entry.get("href", "")).rstrip("/").rsplit("/", 1)[-1]
    return ""


class CCPAlgorithm(QgsProcessingAlgorithm):
    def __init__(self, server: Server, description: dict[str, Any],
                 infrastructure: dict[str, Any] | None = None) -> None:
        super().__init__()
        self.server = server
        self.description = description
        # the Infrastructure's manifest: only what it offers is offered (None: all)
        self.infrastructure = infrastructure
        self.kinds: dict[str, str] = {}  # input id -> mapping kind, set by initAlgorithm

    def createInstance(self) -> CCPAlgorithm:  # noqa: N802 (QGIS names)
        return CCPAlgorithm(self.server, self.description, self.infrastructure)

    def name(self) -> str:
        return self.description["id"]

    def displayName(self) -> str:  # noqa: N802
        return str(self.description.get("title") or self.description["id"])

    def group(self) -> str:
        return category(self.description)

    def groupId(self) -> str:  # noqa: N802
        return re.sub(r"[^a-z0-9]+", "_", self.group().lower()).strip("_") or "other"

    def tags(self) -> list[str]:
        return [str(k) for k in self.description.get("keywords") or []] + ["ccp", "ogc"]

    def canExecute(self) -> tuple[bool, str]:  # noqa: N802
        if self.description.get("executable", True) is False:
            return False, str(self.description.get("notExecutableBecause") or "not executable")
        return True, ""

    def shortHelpString(self) -> str:  # noqa: N802
        d = self.description
        parts = [f"<p>{html.escape(str(d.get('description') or ''))}</p>", "<dl>"]
        for input_id, spec in (d.get("inputs") or {}).items():
            if mapping.classify(input_id, spec) == mapping.HIDDEN:
                continue
            parts.append(f"<dt><b>{html.escape(str(spec.get('title') or input_id))}</b> "
                         f"({html.escape(input_id)})</dt>"
                         f"<dd>{html.escape(str(spec.get('description') or ''))}</dd>")
        parts.append("</dl>")
        url = f"{self.server.url}/processes/{d['id']}"
        parts.append(f"<p>Version {html.escape(str(d.get('version', '')))} on infrastructure "
                     f"<i>{html.escape(infrastructure_of(d))}</i> of "
                     f"<a href='{html.escape(url)}'>{html.escape(self.server.url)}</a>. "
                     "What the Method writes to /ccp_data is unpacked into the output folder; "
                     "GeoJSON, GeoTIFF, GeoPackage and CSV files are loaded as layers.</p>")
        parts.append(manifest.job_control_help(self.infrastructure, infrastructure_of(d)))
        if self.description.get("executable", True) is False:
            parts.append(f"<p><b>Not executable:</b> "
                         f"{html.escape(str(d.get('notExecutableBecause', '')))}</p>")
        return "".join(parts)

    def initAlgorithm(self, config: Any = None) -> None:  # noqa: N802
        for input_id, spec in (self.description.get("inputs") or {}).items():
            bounded = manifest.control_input(input_id, spec if isinstance(spec, dict) else {},
                                             self.infrastructure)
            if bounded is None:  # the Infrastructure does not offer it: the server's default
                self.kinds[input_id] = mapping.HIDDEN
                continue
            kind, param = mapping.parameter(input_id, bounded)
            self.kinds[input_id] = kind
            if param is not None:
                self.addParameter(param)
        self.addParameter(QgsProcessingParameterFolderDestination(
            OUTPUT_FOLDER, "Output folder (what the Method wrote to /ccp_data)",
            QgsProcessing.TEMPORARY_OUTPUT, True))
        for name, title in LINK_OUTPUTS.items():
            self.addOutput(QgsProcessingOutputString(name, title))
        self.addOutput(QgsProcessingOutputMultipleLayers(LAYERS, "Layers"))
        for output_id, spec in (self.description.get("outputs") or {}).items():
            self.addOutput(_output(output_id, spec if isinstance(spec, dict) else {}))

    def processAlgorithm(self, parameters: dict[str, Any], context: QgsProcessingContext,  # noqa: N802
                         feedback: QgsProcessingFeedback) -> dict[str, Any]:
        process_id = self.description["id"]
        inputs = {}
        for input_id, spec in (self.description.get("inputs") or {}).items():
            given = mapping.value(self, self.kinds[input_id], input_id, spec, parameters,
                                  context)
            if given is not mapping.MISSING:
                inputs[input_id] = given
        folder = Path(self.parameterAsFileOutput(parameters, OUTPUT_FOLDER, context)
                      or QgsProcessingUtils.generateTempFilename("ccp-output"))
        try:
            client = self.server.client()
            job = client.execute(process_id, inputs)
            job_id = job["jobID"]
            feedback.pushInfo(f"Submitted CCP job {job_id}: {client.job_url(job_id)} "
                              f"(in a browser: {self.server.url}/ui/executions/{job_id})")
            job = jobs.follow(client, job_id, feedback)
            if job["status"] != "successful":
                raise jobs.failure(client, job)
            return self._collect(client, job, folder, context, feedback)
        except (CCPError, ValueError, OSError, zipfile.BadZipFile) as err:
            raise QgsProcessingException(str(err)) from None

    def _collect(self, client: Client, job: dict[str, Any], folder: Path,
                 context: QgsProcessingContext, feedback: QgsProcessingFeedback) -> dict:
        job_id = job["jobID"]
        job_url = client.job_url(job_id)
        results = client.results(job_id)
        found = {"JOB_ID": job_id, "JOB_URL": job_url,
                 "LOG_URL": jobs.link(job, "logs") or f"{job_url}/logs",
                 "ARCHIVE_URL": jobs.link(job, "archive") or f"{job_url}/archive",
                 "PROVENANCE_URL": jobs.link(job, "provenance") or f"{job_url}/provenance",
                 OUTPUT_FOLDER: str(folder)}
        files = self._unpack(client, results, job_url, folder, feedback)
        named = outputs.named_outputs(self.description, results, folder, files, client.download)
        declared = self.description.get("outputs") or {}
        for output_id, entry in results.items():
            if output_id in declared and output_id not in named:
                found[output_id] = _plain(entry)
        layers: dict[Path, tuple[str, str]] = {}
        for output_id, path in named.items():
            found[output_id] = str(path)
            layers[path] = (str(declared[output_id].get("title") or output_id), output_id)
        for path in files:
            if outputs.layer_kind(path) and path not in layers:
                layers[path] = (path.stem, LAYERS)
        for path, (name, output_name) in layers.items():
            context.addLayerToLoadOnCompletion(str(path), QgsProcessingContext.LayerDetails(
                name, context.project(), output_name))
        found[LAYERS] = [str(path) for path in layers]
        feedback.pushInfo(f"Output folder: {folder} ({len(files)} files, {len(layers)} layers)")
        feedback.pushInfo(f"Execution archive: {found['ARCHIVE_URL']}")
        feedback.pushInfo(f"Provenance: {found['PROVENANCE_URL']}")
        return found

    def _unpack(self, client: Client, results: dict[str, Any], job_url: str, folder: Path,
                feedback: QgsProcessingFeedback) -> list[Path]:
        # The results document's `output` entry is the zip of everything under /ccp_data.
        entry = results.get("output")
        zip_url = (entry.get("href") if isinstance(entry, dict) else None) or \
            f"{job_url}/outputs/output.zip"
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(prefix="ccp-") as scratch:
            try:
                zip_path = client.download(zip_url, Path(scratch) / "output.zip")
            except CCPError as err:
                if err.status != 404:
                    raise
                feedback.pushInfo("The execution left no output.zip")
                return []
            try:
                return outputs.unpack(zip_path, folder)
            except outputs.UnsafeArchive as err:
                raise QgsProcessingException(str(err)) from None


def _output(output_id: str, spec: dict[str, Any]) -> Any:
    schema = spec.get("schema") if isinstance(spec.get("schema"), dict) else {}
    title = str(spec.get("title") or output_id)
    kind = outputs.LAYER_MEDIA_TYPES.get(outputs.media_type(schema.get("contentMediaType")))
    if kind and kind[1] == "raster":
        return QgsProcessingOutputRasterLayer(output_id, title)
    if kind:
        return QgsProcessingOutputVectorLayer(output_id, title)
    return QgsProcessingOutputString(output_id, title)


def _plain(entry: Any) -> str:
    """A results-document entry as text: its value, else its href."""
    if isinstance(entry, dict) and "value" in entry:
        entry = entry["value"]
    elif isinstance(entry, dict) and "href" in entry:
        entry = entry["href"]
    return entry if isinstance(entry, str) else json.dumps(entry)
