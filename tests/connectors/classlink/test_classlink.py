"""ClassLink: the OneRoster connector with ClassLink's Roster Server, signing and defaults."""

from __future__ import annotations

import httpx
import pytest

from libs.connectors.base import ConnectorContext, ExtractStep
from libs.connectors.classlink.config import ClassLinkConfig
from libs.connectors.classlink.connector import ClassLinkConnector
from libs.connectors.errors import ConfigError
from libs.connectors.oneroster_api.connector import OneRosterApiConnector
from libs.connectors.records import Enrollment
from libs.connectors.registry import build_connector, connector_class, parse_config
from libs.enums import EntityType, ProviderType
from tests.connectors.oneroster_api.fake import FakeServer
from tests.support.egress import LOCAL


def test_the_roster_server_url_comes_from_the_tenant() -> None:
    config = ClassLinkConfig.model_validate({"clientId": "c", "clientSecret": "s", "tenantId": "SpringtownISD-TX"})

    assert config.resolved_base_url == "https://springtownisd-tx-v2.rosterserver.com/ims/oneroster/v1p1"


def test_a_configured_base_url_wins_over_the_tenant() -> None:
    config = ClassLinkConfig.model_validate(
        {
            "clientId": "c",
            "clientSecret": "s",
            "tenantId": "x-v2",
            "baseUrl": "https://x.oneroster.com/ims/oneroster/v1p1/",
        }
    )

    assert config.resolved_base_url == "https://x.oneroster.com/ims/oneroster/v1p1"


def test_a_tenant_that_is_not_a_server_name_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match=r"config\.tenantId"):
        parse_config(ProviderType.CLASSLINK, {"clientId": "c", "clientSecret": "s", "tenantId": "not a host!"})


def test_the_client_secret_is_a_secret_field() -> None:
    assert ClassLinkConfig.secret_fields == ("clientSecret",)
    assert connector_class(ProviderType.ONEROSTER_API).config_model.secret_fields == ("clientSecret",)


def test_the_registry_builds_both_connectors() -> None:
    assert connector_class(ProviderType.ONEROSTER_API) is OneRosterApiConnector
    assert issubclass(connector_class(ProviderType.CLASSLINK), OneRosterApiConnector)


def test_classlink_signs_with_hmac_sha256_and_reads_its_quirks() -> None:
    server = FakeServer(link=False)
    enrollments = server.data["enrollments"]

    def classlink(request: httpx.Request) -> httpx.Response | None:
        assert 'oauth_signature_method="HMAC-SHA256"' in request.headers["authorization"]
        if request.url.path.endswith("/enrollments"):
            # lowercase count headers, x-count per page, string booleans, hrefs on another host
            headers = {"x-total-count": str(len(enrollments)), "x-count": str(len(enrollments))}
            return httpx.Response(200, headers=headers, json={"enrollments": enrollments})
        return None

    server.hook = classlink
    connector = build_connector(
        ProviderType.CLASSLINK,
        {
            "clientId": "c",
            "clientSecret": "s",
            "tenantId": "district-tx",
            "baseUrl": "https://cl.example.org/ims/oneroster/v1p1",
        },
        ConnectorContext(provider_id="p", http_transport=server.transport()),
    )
    try:
        extraction = connector.extract(ExtractStep("enrollments", (EntityType.ENROLLMENT,)))
        records = [r for r in extraction if isinstance(r, Enrollment)]
    finally:
        connector.close()

    assert len(records) == 8
    assert {r.primary for r in records if r.role == "teacher"} == {True}
    assert extraction.outcomes[EntityType.ENROLLMENT].complete
    assert isinstance(connector, ClassLinkConnector)
    assert connector.settings.requests_per_minute == 600
    assert connector.settings.source_name == "ClassLink"


def test_the_request_budget_is_per_credential_and_names_no_secret() -> None:
    def settings(provider: ProviderType, **config: str) -> str:
        connector = build_connector(provider, config, ConnectorContext(provider_id="p", egress=LOCAL))
        try:
            assert isinstance(connector, OneRosterApiConnector)
            return connector.settings.budget_key
        finally:
            connector.close()

    base = "https://sis.example.org/ims/oneroster/v1p1"
    one = settings(ProviderType.ONEROSTER_API, baseUrl=base, clientId="a", clientSecret="secret-1")
    same_key = settings(ProviderType.ONEROSTER_API, baseUrl=base, clientId="a", clientSecret="secret-2")
    other = settings(ProviderType.ONEROSTER_API, baseUrl=base, clientId="b", clientSecret="secret-1")
    classlink = settings(ProviderType.CLASSLINK, tenantId="district-tx", clientId="a", clientSecret="secret-1")

    assert one == same_key
    assert one != other
    assert one.startswith("oneroster:")
    assert classlink.startswith("classlink:")
    assert "secret" not in one + classlink
