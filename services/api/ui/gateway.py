"""The UI calls the REST API's own operations in-process, as the signed-in principal.

No page or form re-implements a rule: validation, tenant access, secret masking, rate limits
and the audit log all happen inside the operation, exactly as for a bearer-token client.
"""

from __future__ import annotations

from typing import Any, TypeVar

from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from libs.auth import Principal
from services.api import endpoint
from services.api.services import Services
from services.api.ui.session import Session

M = TypeVar("M", bound=BaseModel)


class Gateway:
    def __init__(self, request: Request, services: Services, session: Session) -> None:
        self.request = request
        self.services = services
        self.session = session

    @property
    def principal(self) -> Principal:
        return self.session.principal

    async def call(
        self,
        operation_id: str,
        *,
        query: dict[str, Any] | None = None,
        body: Any = None,
        **path: Any,
    ) -> Any:
        """The operation's result (a pydantic model or a response); ApiError as the API raises it."""
        op = endpoint.find(operation_id)
        return await run_in_threadpool(
            endpoint.invoke,
            op,
            self.request,
            self.session.principal,
            self.services,
            self.session.rate_key,
            path={k: str(v) for k, v in path.items()},
            query={k: str(v) for k, v in (query or {}).items()},
            body=body,
        )

    async def model(self, expected: type[M], operation_id: str, **kwargs: Any) -> M:
        result = await self.call(operation_id, **kwargs)
        if isinstance(result, Response) or not isinstance(result, expected):
            raise TypeError(f"{operation_id} returned {type(result).__name__}, not {expected.__name__}")
        return result
