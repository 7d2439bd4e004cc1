"""ClassLink is a OneRoster 1.1 server with conventions, so this is the OneRoster connector
with ClassLink's settings: the Roster Server URL from the tenant, OAuth 1.0a HMAC-SHA256
(ClassLink's direct access mode), and a default request budget of its own.

ClassLink's quirks are handled where every OneRoster server may show them: string booleans and
hrefs to other hosts in the mapping, `x-count` and missing `Link` headers in the paging loop,
`users` as the envelope of class rosters by keying envelopes on the resource type.
"""

from __future__ import annotations

from typing import ClassVar

from libs.connectors.base import ProviderConfig
from libs.connectors.classlink.config import ClassLinkConfig
from libs.connectors.oneroster_api.connector import OneRosterApiConnector
from libs.connectors.oneroster_api.settings import ApiSettings, api_settings
from libs.enums import ProviderType


class ClassLinkConnector(OneRosterApiConnector):
    provider_type: ClassVar[ProviderType] = ProviderType.CLASSLINK
    config_model: ClassVar[type[ProviderConfig]] = ClassLinkConfig

    def api_settings(self) -> ApiSettings:
        config = self.config
        assert isinstance(config, ClassLinkConfig)
        base_url = config.resolved_base_url
        return api_settings(
            config,
            base_url=base_url,
            client_id=config.client_id,
            client_secret=config.client_secret,
            auth="oauth1",
            token_url=f"{base_url}/token",
            scope=None,
            signature_method="HMAC-SHA256",
            source_name="ClassLink",
            budget_prefix="classlink",
        )


__all__ = ["ClassLinkConnector"]
