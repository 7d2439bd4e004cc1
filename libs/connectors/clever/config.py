"""The Clever provider config, as the API receives it (camelCase) and stores it encrypted."""

from __future__ import annotations

from typing import ClassVar, Self
from urllib.parse import urlsplit

from pydantic import Field, field_validator, model_validator

from libs.connectors.base import ProviderConfig

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

    secret_fields: ClassVar[tuple[str, ...]] = ("clientSecret", "accessToken")
    destination_fields: ClassVar[tuple[str, ...]] = ("apiUrl", "oauthUrl", "districtId")

    client_id: str | None = Field(default=None, alias="clientId")
    client_secret: str | None = Field(default=None, alias="clientSecret", repr=False)
    district_id: str = Field(alias="districtId", min_length=1, max_length=64)
    access_token: str | None = Field(default=None, alias="accessToken", repr=False)
    # where the Data API and the OAuth endpoints live (a simulator, a proxy); normally Clever's
    api_url: str = Field(default="https://api.clever.com", alias="apiUrl")
    oauth_url: str = Field(default="https://clever.com", alias="oauthUrl")
    page_size: int = Field(default=MAX_PAGE_SIZE, ge=1, le=MAX_PAGE_SIZE, alias="pageSize")
    requests_per_minute: int = Field(default=DEFAULT_REQUESTS_PER_MINUTE, ge=1, le=100_000, alias="requestsPerMinute")
    # staff (school admins) are roster users unless turned off; district admins and contacts never are
    include_staff: bool = Field(default=True, alias="includeStaff")
    # how long one request may keep retrying 429s and 5xx before the step fails
    max_retry_wait_seconds: float = Field(default=600.0, gt=0, le=3600, alias="maxRetryWaitSeconds")
    # more events than this since the last run: a full sync is cheaper and safer than replaying them
    max_incremental_events: int = Field(default=200_000, ge=1, alias="maxIncrementalEvents")

    @field_validator("api_url", "oauth_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError("must be an http(s) URL such as https://api.clever.com")
        # Clever's links are host-relative and already carry /v3.0, so a path would be lost
        if parts.path not in ("", "/") or parts.query or parts.fragment:
            raise ValueError("must be scheme and host only (no path, query or fragment)")
        return value.rstrip("/")

    @model_validator(mode="after")
    def _credentials(self) -> Self:
        if not self.access_token and not (self.client_id and self.client_secret):
            raise ValueError("give accessToken, or clientId and clientSecret to obtain the district token")
        return self
