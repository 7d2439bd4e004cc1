"""ONEROSTER_CSV: a OneRoster 1.1 (or 1.2) CSV package, fetched over SFTP or read from a local path.

Parsing is the cost of a CSV run (enrollments are four fifths of a district's rows), so the plan
is two CPU-bound steps that run on two worker processes at once: "package" (schools, terms,
classes, users) and "enrollments". The plan chooses the package and pins it (name, and each
file's size and time); both steps fetch exactly that package and stop the run if it changed in
between, so a run never mixes two exports. Each extraction reports per entity whether the
manifest made it a full snapshot, a delta, or absent.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, Protocol

from libs.connectors.base import ConnectionResult, Connector, ConnectorContext, Extraction, ExtractStep, ProviderConfig
from libs.connectors.errors import ConfigError, ConnectorError
from libs.connectors.oneroster_csv.config import OneRosterCsvConfig
from libs.connectors.oneroster_csv.extraction import PackageExtraction
from libs.connectors.oneroster_csv.local import Fetched, LocalSource
from libs.connectors.oneroster_csv.package import Package
from libs.connectors.oneroster_csv.remote import SftpSource
from libs.connectors.sftp.keys import KeyFolder
from libs.enums import LOAD_ORDER, EntityType, ProviderType

PACKAGE_STEP = "package"
ENROLLMENTS_STEP = "enrollments"
# step parameter: the package the plan chose, as JSON (see LocalSource.pin / SftpSource.pin)
PIN_PARAM = "package"
# the whole package in one pass, unpinned: what a connection test reads
WHOLE_PACKAGE = ExtractStep(name=PACKAGE_STEP, entity_types=LOAD_ORDER)


class PackageSource(Protocol):
    def pin(self) -> dict[str, Any]: ...

    def fetch(self, pin: dict[str, Any] | None = None) -> Fetched: ...

    def describe(self) -> dict[str, Any]: ...


class OneRosterCsvConnector(Connector):
    provider_type = ProviderType.ONEROSTER_CSV
    config_model = OneRosterCsvConfig

    def __init__(self, config: ProviderConfig, context: ConnectorContext) -> None:
        if not isinstance(config, OneRosterCsvConfig):
            raise ConfigError("ONEROSTER_CSV needs a OneRosterCsvConfig")
        super().__init__(config, context)
        self.settings = config
        if config.local_path is not None and not context.allow_local_paths:
            raise ConfigError(
                "config.localPath reads files on the sync server itself, which this installation does not allow "
                "(ALLOW_LOCAL_CSV_PATHS is off; it is meant for demos and tests): use sftp and remotePath"
            )
        self._open: list[Extraction] = []

    def _source(self) -> PackageSource:
        if self.settings.local_path is not None:
            return LocalSource(self.settings.local_path, self.settings.file_pattern)
        context = self.context
        return SftpSource(
            self.settings,
            work_dir=context.work_dir,
            egress=context.egress,
            key_folder=KeyFolder(context.sftp_key_dir, context.tenant_id),
            deadline=context.deadline,
        )

    def plan(self) -> list[ExtractStep]:
        params = {PIN_PARAM: json.dumps(self._source().pin(), sort_keys=True)}
        rest = tuple(e for e in LOAD_ORDER if e is not EntityType.ENROLLMENT)
        return [
            ExtractStep(name=PACKAGE_STEP, entity_types=rest, params=params, cpu_bound=True),
            ExtractStep(name=ENROLLMENTS_STEP, entity_types=(EntityType.ENROLLMENT,), params=params, cpu_bound=True),
        ]

    def extract(self, step: ExtractStep) -> PackageExtraction:
        pinned = step.params.get(PIN_PARAM)
        fetched = self._source().fetch(json.loads(pinned) if pinned else None)
        try:
            package = Package(
                fetched.path, display_name=fetched.name, max_bytes=self.context.csv_max_uncompressed_bytes
            )
        except BaseException:
            fetched.cleanup()
            raise
        extraction = PackageExtraction(
            step,
            package,
            student_number_id_type=self.settings.student_number_id_type,
            on_close=fetched.cleanup,
            source={"package": fetched.info},
        )
        try:
            extraction.preflight()
        except BaseException:
            extraction.close()
            raise
        self._open.append(extraction)
        return extraction

    def test_connection(self) -> ConnectionResult:
        source = self._source()
        try:
            details = source.describe()
        except ConnectorError as exc:
            return ConnectionResult(False, exc.message, dict(exc.details))
        if self.settings.local_path is None:
            message = f"connected; would take {details.get('package')}"
            return ConnectionResult(True, message, details)
        # a local package is cheap to check all the way to its headers
        try:
            extraction = self.extract(WHOLE_PACKAGE)
        except ConnectorError as exc:
            details["problem"] = exc.message
            return ConnectionResult(False, f"{details.get('package', 'the package')}: {exc.message}", details)
        try:
            details.update(
                files={name: info["mode"] for name, info in extraction.source["files"].items()},
                package_files=sorted(extraction.package.files()),
                oneroster_version=extraction.source.get("oneroster_version"),
                warnings=extraction.warnings,
                modes={entity.value: outcome.mode.value for entity, outcome in extraction.outcomes.items()},
            )
        finally:
            extraction.close()
            self._open.remove(extraction)
        message = f"would read {details.get('package')} (OneRoster {details.get('oneroster_version') or '?'})"
        return ConnectionResult(True, message, details)

    def next_cursor(self, extractions: list[Mapping[str, Any]]) -> dict[str, Any]:
        # the package a successful run applied, so the next run can tell an admin "no new package"
        for source in extractions:
            if source.get("package"):
                return {"package": dict(source["package"])}
        return {}

    def close(self) -> None:
        for extraction in self._open:
            if isinstance(extraction, PackageExtraction):
                extraction.close()
        self._open.clear()


__all__ = ["ENROLLMENTS_STEP", "PACKAGE_STEP", "PIN_PARAM", "WHOLE_PACKAGE", "OneRosterCsvConnector"]
