"""The Clever connector: test connection, plan, extract, and the event cursor between runs."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from libs.connectors.base import (
    ConnectionResult,
    Connector,
    ConnectorContext,
    Extraction,
    ExtractStep,
    ProviderConfig,
)
from libs.connectors.clever import events
from libs.connectors.clever.api import API_PREFIX, CleverApi
from libs.connectors.clever.config import CleverConfig
from libs.connectors.clever.extraction import FULL_STEPS, READERS, CleverExtraction
from libs.connectors.errors import (
    AuthError,
    ConfigError,
    ConnectorError,
    EgressRefused,
    NotFoundError,
    ProviderUnavailable,
    RateLimited,
)
from libs.connectors.http import RetryPolicy
from libs.enums import LOAD_ORDER, ProviderType, SyncMode

EVENTS_STEP = "events"
# the lists a sync reads (extraction.py, events.py), with their filters
READ_BY_SYNC: tuple[tuple[str, dict[str, str]], ...] = (
    ("/schools", {}),
    ("/terms", {}),
    ("/courses", {}),
    ("/sections", {}),
    ("/users", {"role": "student"}),
    ("/users", {"role": "teacher"}),
)
SUCCESS_MESSAGE = "Successfully connected to Clever"
# an admin clicking "test connection" should not wait minutes for retries
TEST_POLICY = RetryPolicy(max_attempts=3, max_wait=15.0, base_delay=0.5, max_delay=5.0)


class CleverConnector(Connector):
    provider_type: ClassVar[ProviderType] = ProviderType.CLEVER
    config_model: ClassVar[type[ProviderConfig]] = CleverConfig

    def __init__(self, config: ProviderConfig, context: ConnectorContext) -> None:
        if not isinstance(config, CleverConfig):
            raise ConfigError("the Clever connector needs a Clever config")
        super().__init__(config, context)
        self.clever: CleverConfig = config
        # a token fetched with client credentials, reused by the steps this instance runs
        self._token: str | None = config.access_token
        self._apis: list[CleverApi] = []

    def _api(self, policy: RetryPolicy | None = None) -> CleverApi:
        api = CleverApi(self.clever, self.context, policy=policy, token=self._token)
        self._apis.append(api)
        return api

    # --- test connection --------------------------------------------------------------------

    def test_connection(self) -> ConnectionResult:
        api = self._api(TEST_POLICY)
        district_id = self.clever.district_id
        try:
            body = api.get_json(api.url("/v3.0/districts"))
        except AuthError as exc:
            return ConnectionResult(False, exc.message, {"reason": "credentials"})
        except NotFoundError as exc:
            return ConnectionResult(False, exc.message, {"reason": "district"})
        except (ProviderUnavailable, RateLimited) as exc:
            return ConnectionResult(False, exc.message, {"reason": "network"})
        except EgressRefused as exc:
            return ConnectionResult(False, exc.message, {"reason": "destination"})
        except ConnectorError as exc:
            return ConnectionResult(False, exc.message, {"reason": "protocol"})
        finally:
            self._token = api.current_token or self._token
        items: list[Any] = body["data"] if isinstance(body.get("data"), list) else []
        districts = [item["data"] for item in items if isinstance(item, dict) and isinstance(item.get("data"), dict)]
        if len(districts) != 1:
            return ConnectionResult(
                False,
                f"Clever returned {len(districts)} districts for this token; expected exactly district {district_id}",
                {"reason": "district", "districts": len(districts)},
            )
        district = districts[0]
        if district.get("id") != district_id:
            return ConnectionResult(
                False,
                f"The token belongs to Clever district {district.get('id')} ({district.get('name')}), "
                f"not to the configured district {district_id}",
                {"reason": "district", "districtId": district.get("id")},
            )
        details = {k: district.get(k) for k in ("id", "name", "state", "last_sync")}
        # one item of every list a sync reads: a token without access to one fails here, naming it
        for path, params in READ_BY_SYNC:
            try:
                api.get_json(api.url(API_PREFIX + path, {**params, "limit": "1"}))
            except ConnectorError as exc:
                reason = {"reason": "scope", "collection": path, "district": details}
                return ConnectionResult(False, f"The token cannot read {path}: {exc.message}", reason)
        return ConnectionResult(True, SUCCESS_MESSAGE, {"district": details})

    # --- plan and extract -------------------------------------------------------------------

    def plan(self) -> list[ExtractStep]:
        if self.context.mode == SyncMode.INCREMENTAL:
            cursor = str(self.context.cursor.get("lastEventId") or "")
            reason = events.stale_reason(cursor)
            if reason is None:
                return [ExtractStep(EVENTS_STEP, LOAD_ORDER, {"cursor": cursor})]
            note = f"incremental sync fell back to a full sync: {reason}"
            return self._full_plan(note)
        return self._full_plan(None)

    def _full_plan(self, note: str | None) -> list[ExtractStep]:
        params = {"eventsFrom": events.cursor_for_full_sync()}
        if note:
            params["note"] = note
        return [ExtractStep(step.name, step.entity_types, params) for step in FULL_STEPS]

    def extract(self, step: ExtractStep) -> Extraction:
        if step.name == EVENTS_STEP:
            return CleverExtraction(step, self._api(), events.read_changes)
        reader = READERS.get(step.name)
        if reader is None:
            raise ConfigError(f"the Clever connector has no extract step named {step.name!r}")
        return CleverExtraction(step, self._api(), reader)

    def next_cursor(self, extractions: list[Mapping[str, Any]]) -> dict[str, Any]:
        # the oldest position any step vouches for: replaying a few events is harmless, skipping is not
        found = [str(source["lastEventId"]) for source in extractions if source.get("lastEventId")]
        return {"lastEventId": min(found)} if found else {}

    def close(self) -> None:
        for api in self._apis:
            api.close()
        self._apis.clear()
