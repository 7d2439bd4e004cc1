"""The Clever provider config, as the API receives it (camelCase) and stores it encrypted."""

from __future__ import annotations

from typing import ClassVar, Self

from pydantic import ConfigDict, Field, field_validator, model_validator

from libs.connectors.base import ProviderConfig
from libs.text import BearerToken, HostUrl, Line

# Clever allows 1200 requests per minute per token; we stay 10% below so that clock skew
# between our budget and Clever's fixed window never costs a 429
CLEVER_LIMIT_PER_MINUTE = 1200
DEFAULT_REQUESTS_PER_MINUTE = 1080
MAX_PAGE_SIZE = 10_000


class CleverConfig(ProviderConfig):
    """`accessToken` (a district-app bearer token), or `clientId` + `clientSecret` to fetch it.

    With client credentials the connector asks Clever for the district's current token on
    every run, which survives token rotation; a stored token is used as is.
    """

    # the credential rule below, as the schema says it
    model_config = ConfigDict(
        json_schema_extra={
            "anyOf": [
                {"required": ["accessToken"], "properties": {"accessToken": {"type": "string"}}},
                {
                    "required": ["clientId", "clientSecret"],
                    "properties": {"clientId": {"type": "string"}, "clientSecret": {"type": "string"}},
                },
            ]
        }
    )
    secret_fields: ClassVar[tuple[str, ...]] = ("clientSecret", "accessToken")
    destination_fields: ClassVar[tuple[str, ...]] = ("apiUrl", "oauthUrl", "districtId")

    client_id: Line | None = Field(default=None, alias="clientId", min_length=1, max_length=200)
    client_secret: Line | None = Field(default=None, alias="clientSecret", repr=False, min_length=1, max_length=500)
    district_id: Line = Field(alias="districtId", min_length=1, max_length=64)
    access_token: BearerToken | None = Field(
        default=None, alias="accessToken", repr=False, min_length=1, max_length=2000
    )
    # where the Data API and the OAuth endpoints live (a simulator, a proxy); normally Clever's
    api_url: HostUrl = Field(default="https://api.clever.com", alias="apiUrl", max_length=300)
    oauth_url: HostUrl = Field(default="https://clever.com", alias="oauthUrl", max_length=300)
    page_size: int = Field(default=MAX_PAGE_SIZE, ge=1, le=MAX_PAGE_SIZE, alias="pageSize")
    requests_per_minute: int = Field(default=DEFAULT_REQUESTS_PER_MINUTE, ge=1, le=100_000, alias="requestsPerMinute")
    # staff (school admins) are roster users unless turned off; district admins and contacts never are
    include_staff: bool = Field(default=True, alias="includeStaff")
    # how long one request may keep retrying 429s and 5xx before the step fails
    max_retry_wait_seconds: float = Field(default=600.0, gt=0, le=3600, alias="maxRetryWaitSeconds")
    # more events than this since the last run: a full sync is cheaper and safer than replaying them
    max_incremental_events: int = Field(default=200_000, ge=1, le=100_000_000, alias="maxIncrementalEvents")

    @field_validator("api_url", "oauth_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        # Clever's links are host-relative and already carry /v3.0, so HostUrl allows no path
        return value.rstrip("/")

    @model_validator(mode="after")
    def _credentials(self) -> Self:
        if self.access_token is None and (self.client_id is None or self.client_secret is None):
            raise ValueError("give accessToken, or clientId and clientSecret to obtain the district token")
        return self
