"""The resolved connection settings a OneRoster-speaking connector runs with.

Provider configs differ (a generic OneRoster server names its base URL and auth; ClassLink
names a tenant and always signs OAuth 1 with HMAC-SHA256); once resolved, both are this.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from libs.connectors.oneroster_api.config import OneRosterApiConfig, OneRosterTuning


@dataclass(frozen=True)
class ApiSettings:
    base_url: str
    client_id: str
    client_secret: str
    auth: str  # oauth1 | oauth2
    token_url: str
    scope: str | None
    signature_method: str
    page_size: int
    requests_per_minute: int
    enrollment_partitions: str  # school | none
    delta_overlap_seconds: int
    student_number_user_id_type: str | None
    # how messages name the source: "the OneRoster server", "ClassLink"
    source_name: str
    # the request budget is per credential: two providers on one key share one limit
    budget_prefix: str

    @property
    def budget_key(self) -> str:
        digest = hashlib.sha256(f"{self.base_url}\n{self.client_id}".encode()).hexdigest()[:16]
        return f"{self.budget_prefix}:{digest}"


def api_settings(
    config: OneRosterTuning,
    *,
    base_url: str,
    client_id: str,
    client_secret: str,
    auth: str,
    token_url: str,
    scope: str | None,
    signature_method: str,
    source_name: str,
    budget_prefix: str,
) -> ApiSettings:
    """Settings from a config's tuning fields plus the connection a provider type resolves."""
    return ApiSettings(
        base_url=base_url,
        client_id=client_id,
        client_secret=client_secret,
        auth=auth,
        token_url=token_url,
        scope=scope,
        signature_method=signature_method,
        page_size=config.page_size,
        requests_per_minute=config.requests_per_minute,
        enrollment_partitions=config.enrollment_partitions,
        delta_overlap_seconds=config.delta_overlap_seconds,
        student_number_user_id_type=config.student_number_user_id_type,
        source_name=source_name,
        budget_prefix=budget_prefix,
    )


def from_oneroster_config(config: OneRosterApiConfig) -> ApiSettings:
    return api_settings(
        config,
        base_url=config.base_url,
        client_id=config.client_id,
        client_secret=config.client_secret,
        auth=config.auth,
        token_url=config.resolved_token_url,
        scope=config.scope,
        signature_method=config.signature_method,
        source_name="the OneRoster server",
        budget_prefix="oneroster",
    )


__all__ = ["ApiSettings", "api_settings", "from_oneroster_config"]
