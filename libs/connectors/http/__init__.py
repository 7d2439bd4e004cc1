"""Shared HTTP plumbing for API connectors: client factory, retry policy, request budget."""

from libs.connectors.http.budget import RequestBudget, credential_key
from libs.connectors.http.client import USER_AGENT, build_client
from libs.connectors.http.retry import HttpSession, RequestStats, RetryPolicy, retry_after_seconds

__all__ = [
    "USER_AGENT",
    "HttpSession",
    "RequestBudget",
    "RequestStats",
    "RetryPolicy",
    "build_client",
    "credential_key",
    "retry_after_seconds",
]
