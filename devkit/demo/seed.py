"""The demo tenant: one provider per simulated source, created through the REST API like an
admin would, and a first sync of each. Re-running the demo updates them instead of adding more."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx

from devkit.demo.seeders import Source

TENANT = "demo-district"
TIMEZONE = "America/Chicago"


class SeedError(RuntimeError):
    """The API refused a demo provider or its sync; the message is the API's problem detail."""


@dataclass(frozen=True)
class Seeded:
    provider_id: str
    name: str
    provider_type: str
    run_id: str


def _check(response: httpx.Response, what: str) -> dict[str, Any]:
    if response.status_code >= 400 and response.status_code != 409:
        try:
            detail = response.json().get("detail", response.text)
        except ValueError:
            detail = response.text
        raise SeedError(f"{what}: {response.status_code} {detail}")
    body: dict[str, Any] = response.json()
    return body


def seed(api_url: str, token: str, sources: list[Source]) -> list[Seeded]:
    out = []
    with httpx.Client(base_url=api_url, headers={"Authorization": f"Bearer {token}"}, timeout=60) as client:
        listed = _check(client.get(f"/api/v1/tenants/{TENANT}/providers"), "listing the demo providers")
        existing = {p["name"]: p for p in listed["providers"]}
        for source in sources:
            if source.name in existing:
                # the simulators listen on new ports (and passwords) each time the demo starts
                provider_id = existing[source.name]["id"]
                body = {"config": source.config, "enabled": True}
                _check(client.patch(f"/api/v1/providers/{provider_id}", json=body), f"updating {source.name}")
            else:
                body = {
                    "tenantId": TENANT,
                    "providerType": source.provider_type.value,
                    "name": source.name,
                    "config": source.config,
                    "syncSchedule": "daily",
                    "scheduleTimezone": TIMEZONE,
                }
                provider_id = _check(client.post("/api/v1/providers", json=body), f"creating {source.name}")["id"]
            run = _check(client.post(f"/api/v1/providers/{provider_id}/sync"), f"syncing {source.name}")
            out.append(Seeded(provider_id, source.name, source.provider_type.value, str(run["runId"])))
    return out
