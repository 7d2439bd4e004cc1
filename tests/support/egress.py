"""The egress policy of tests that build connectors by hand: the simulators listen on loopback.

It is what `ALLOW_PRIVATE_PROVIDER_HOSTS` gives under APP_ENV=test; a context without a policy
refuses private hosts, as in production.
"""

from libs.connectors.egress import EgressPolicy

LOCAL = EgressPolicy(allow_private=True)
