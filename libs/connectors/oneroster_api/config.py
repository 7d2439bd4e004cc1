"""What a district admin configures for a OneRoster 1.1 REST provider.

The product spec's three fields (`baseUrl`, `clientId`, `clientSecret`) plus the choices real
OneRoster servers force on a client: OAuth 1.0a request signing (the 1.1 original, ClassLink)
or OAuth 2 client-credentials tokens (Infinite Campus, Aeries, SDS), the page size to ask
for, the request budget, and whether enrollments are fetched per school in parallel.
"""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import ConfigDict, Field, field_validator, model_validator

from libs.connectors.base import ProviderConfig
from libs.text import BaseUrl, Line

AuthMode = Literal["oauth1", "oauth2"]
SignatureMethod = Literal["HMAC-SHA256", "HMAC-SHA1"]
Partitioning = Literal["school", "none"]


class OneRosterTuning(ProviderConfig):
    """Optional fields every OneRoster-speaking provider accepts (generic servers, ClassLink)."""

    # servers clamp silently (ClassLink, Ed-Fi: 500); asking for more only saves requests
    page_size: int = Field(default=1000, alias="pageSize", ge=1, le=10_000)
    # the provider's published limit per credential; shared by every worker through Redis
    requests_per_minute: int = Field(default=1200, alias="requestsPerMinute", ge=1, le=1_000_000)
    enrollment_partitions: Partitioning = Field(default="school", alias="enrollmentPartitions")
    # incremental runs re-read changes this far before the last run began (servers that stamp
    # a change before its transaction commits would otherwise lose it)
    delta_overlap_seconds: int = Field(default=60, alias="deltaOverlapSeconds", ge=0, le=86_400)
    # the userIds type holding students' numbers (e.g. "StudentNumber"); default: identifier
    student_number_user_id_type: Line | None = Field(default=None, alias="studentNumberUserIdType", max_length=100)


class OneRosterApiConfig(OneRosterTuning):
    # the oauth2-only rule below, as the schema says it
    model_config = ConfigDict(
        json_schema_extra={
            "anyOf": [
                {"required": ["auth"], "properties": {"auth": {"const": "oauth2"}}},
                {"properties": {"tokenUrl": {"type": "null"}, "scope": {"type": "null"}}},
            ]
        }
    )
    secret_fields: ClassVar[tuple[str, ...]] = ("clientSecret",)
    destination_fields: ClassVar[tuple[str, ...]] = ("baseUrl", "tokenUrl")

    base_url: BaseUrl = Field(
        alias="baseUrl", max_length=500, description="the OneRoster root, ending in /ims/oneroster/v1p1"
    )
    client_id: Line = Field(alias="clientId", min_length=1, max_length=200)
    client_secret: Line = Field(alias="clientSecret", min_length=1, max_length=500)
    auth: AuthMode = "oauth1"
    # OAuth 2 only; defaults to <baseUrl>/token
    token_url: BaseUrl | None = Field(default=None, alias="tokenUrl", max_length=500)
    # OAuth 2 only; some servers require one, e.g. .../scope/roster-core.readonly
    scope: Line | None = Field(default=None, max_length=500)
    # OAuth 1 only; a few 1.1 servers still verify HMAC-SHA1
    signature_method: SignatureMethod = Field(default="HMAC-SHA256", alias="signatureMethod")

    @field_validator("base_url", "token_url")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        return None if value is None else value.rstrip("/")

    @model_validator(mode="after")
    def _oauth2_only_fields(self) -> OneRosterApiConfig:
        if self.auth == "oauth1" and (self.token_url is not None or self.scope is not None):
            raise ValueError("tokenUrl and scope apply to auth oauth2 only")
        return self

    @property
    def resolved_token_url(self) -> str:
        return self.token_url or f"{self.base_url}/token"


__all__ = ["AuthMode", "OneRosterApiConfig", "OneRosterTuning", "Partitioning", "SignatureMethod"]
