"""Stand-in connectors with the spec's four config shapes, for API tests.

Their test_connection answers from the config: clientId "refused" -> AuthError, "slow" ->
blocks until released, anything else -> success.
"""

from __future__ import annotations

import threading

from pydantic import Field

from libs.connectors.base import ConnectionResult, Connector, Extraction, ExtractStep, ProviderConfig
from libs.connectors.errors import AuthError
from libs.enums import ProviderType

RELEASE_SLOW = threading.Event()


class CleverConfig(ProviderConfig):
    secret_fields = ("clientSecret", "accessToken")
    clientId: str = Field(min_length=1)
    clientSecret: str | None = None
    districtId: str = Field(min_length=1)
    accessToken: str | None = None


class ClassLinkConfig(ProviderConfig):
    secret_fields = ("clientSecret",)
    clientId: str = Field(min_length=1)
    clientSecret: str = Field(min_length=1)
    tenantId: str = Field(min_length=1)


class OneRosterApiConfig(ProviderConfig):
    secret_fields = ("clientSecret",)
    baseUrl: str = Field(pattern=r"^https?://")
    clientId: str = Field(min_length=1)
    clientSecret: str = Field(min_length=1)


class SftpConfig(ProviderConfig):
    host: str = Field(min_length=1)
    port: int = Field(default=22, ge=1, le=65535)
    username: str = Field(min_length=1)
    password: str | None = None
    privateKey: str | None = None
    privateKeyPath: str | None = None
    hostKey: str | None = None


class OneRosterCsvConfig(ProviderConfig):
    secret_fields = ("sftp.password", "sftp.privateKey")
    sftp: SftpConfig
    remotePath: str = Field(min_length=1)


class _Fake(Connector):
    def test_connection(self) -> ConnectionResult:
        client_id = getattr(self.config, "clientId", None) or getattr(
            getattr(self.config, "sftp", None), "username", ""
        )
        if client_id == "refused":
            raise AuthError(f"{self.provider_type.value} refused the credentials")
        if client_id == "slow":
            RELEASE_SLOW.wait(30)
        return ConnectionResult(True, f"Successfully connected to {self.provider_type.value}", {"fake": True})

    def plan(self) -> list[ExtractStep]:
        return []

    def extract(self, step: ExtractStep) -> Extraction:
        raise NotImplementedError


class FakeClever(_Fake):
    provider_type = ProviderType.CLEVER
    config_model = CleverConfig


class FakeClassLink(_Fake):
    provider_type = ProviderType.CLASSLINK
    config_model = ClassLinkConfig


class FakeOneRosterApi(_Fake):
    provider_type = ProviderType.ONEROSTER_API
    config_model = OneRosterApiConfig


class FakeOneRosterCsv(_Fake):
    provider_type = ProviderType.ONEROSTER_CSV
    config_model = OneRosterCsvConfig


TARGETS = {
    ProviderType.CLEVER: "tests.api.fake_connectors:FakeClever",
    ProviderType.CLASSLINK: "tests.api.fake_connectors:FakeClassLink",
    ProviderType.ONEROSTER_API: "tests.api.fake_connectors:FakeOneRosterApi",
    ProviderType.ONEROSTER_CSV: "tests.api.fake_connectors:FakeOneRosterCsv",
}

# one config per type, in the spec's shapes; every secret value is distinctive, so a test can
# grep responses and logs for it
SECRETS = {
    "clever-secret": "CLEVER-SECRET-7f3a9c",
    "clever-token": "CLEVER-TOKEN-b81d44",
    "classlink": "CLASSLINK-SECRET-2c9e10",
    "oneroster": "ONEROSTER-SECRET-55ab0f",
    "sftp-password": "SFTP-PASSWORD-e41c77",
}

CONFIGS = {
    ProviderType.CLEVER: {
        "clientId": "clever-client",
        "clientSecret": SECRETS["clever-secret"],
        "districtId": "5b2ad81a709e300001e2cd7a",
        "accessToken": SECRETS["clever-token"],
    },
    ProviderType.CLASSLINK: {"clientId": "cl-client", "clientSecret": SECRETS["classlink"], "tenantId": "2187"},
    ProviderType.ONEROSTER_API: {
        "baseUrl": "https://oneroster.example.com/ims/oneroster/v1p1",
        "clientId": "or-client",
        "clientSecret": SECRETS["oneroster"],
    },
    ProviderType.ONEROSTER_CSV: {
        "sftp": {"host": "sftp.example.com", "port": 22, "username": "sis-sync", "password": SECRETS["sftp-password"]},
        "remotePath": "/exports/oneroster",
    },
}
