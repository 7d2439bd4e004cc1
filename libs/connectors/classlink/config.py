"""What a district admin configures for ClassLink: the product spec's three fields, plus overrides.

ClassLink gives each district a Roster Server (`https://<district>-<state>-v2.rosterserver.com`)
and, per application, a client id and secret that sign OAuth 1.0a HMAC-SHA256 requests.
`tenantId` is that Roster Server's name (`springtownisd-tx`); `baseUrl` overrides the URL
derived from it (older `*.oneroster.com` hosts, a sandbox, the simulator).
"""

from __future__ import annotations

import re
from typing import ClassVar

from pydantic import Field, field_validator

from libs.connectors.oneroster_api.config import OneRosterTuning
from libs.text import BaseUrl, Line

ROSTER_SERVER_URL = "https://{server}.rosterserver.com/ims/oneroster/v1p1"
_TENANT = r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$"


class ClassLinkConfig(OneRosterTuning):
    secret_fields: ClassVar[tuple[str, ...]] = ("clientSecret",)
    # the tenant names the Roster Server host unless baseUrl overrides it
    destination_fields: ClassVar[tuple[str, ...]] = ("tenantId", "baseUrl")

    client_id: Line = Field(alias="clientId", min_length=1, max_length=200)
    client_secret: Line = Field(alias="clientSecret", min_length=1, max_length=500)
    tenant_id: str = Field(alias="tenantId", json_schema_extra={"pattern": _TENANT})
    base_url: BaseUrl | None = Field(default=None, alias="baseUrl", max_length=500)
    # ClassLink publishes no number, only "back off on 429"; 10 requests/s per credential is
    # well under what one Roster Server answers (a page takes ~0.4 s to generate)
    requests_per_minute: int = Field(default=600, alias="requestsPerMinute", ge=1, le=1_000_000)

    @field_validator("tenant_id")
    @classmethod
    def _tenant(cls, value: str) -> str:
        if not re.fullmatch(_TENANT, value):
            raise ValueError("tenantId must be the district's Roster Server name, e.g. springtownisd-tx")
        return value.lower()

    @field_validator("base_url")
    @classmethod
    def _base_url(cls, value: str | None) -> str | None:
        return None if value is None else value.rstrip("/")

    @property
    def resolved_base_url(self) -> str:
        if self.base_url:
            return self.base_url
        server = self.tenant_id if self.tenant_id.endswith("-v2") else f"{self.tenant_id}-v2"
        return ROSTER_SERVER_URL.format(server=server)


__all__ = ["ROSTER_SERVER_URL", "ClassLinkConfig"]
