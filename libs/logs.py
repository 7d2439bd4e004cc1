"""Process logging: one line per event, level from LOG_LEVEL, exceptions without their text.

An exception's text may quote request or roster data: SQLAlchemy appends the statement's
parameters, Postgres quotes the offending value (`invalid input syntax ...: "<value>"`, `Key
(...)=(...)`, `Failing row contains ...`), pydantic quotes its input. So a logged exception
shows its type and traceback (file, line, function) for every exception in its chain, never its
message. The API, the workers, the scheduler and uvicorn all log through `logging_config`.
"""

from __future__ import annotations

import logging
import logging.config
import traceback
from types import TracebackType
from typing import Any

from libs.settings import Settings

# libraries whose debug or info lines carry secrets: oauthlib logs OAuth 1 base strings and
# signatures, httpx full request URLs (an OAuth signature may ride in the query), paramiko
# the SSH negotiation; they stay at WARNING or above whatever LOG_LEVEL says
QUIET_LOGGERS = ("oauthlib", "requests_oauthlib", "paramiko", "httpx", "httpcore")

ExcInfo = tuple[type[BaseException], BaseException, TracebackType | None] | tuple[None, None, None]


class WithholdingFormatter(logging.Formatter):
    """Formats exceptions as type and traceback only (the message is withheld, see above)."""

    def formatException(self, ei: ExcInfo) -> str:
        parts: list[str] = []
        exc: BaseException | None = ei[1]
        seen: set[int] = set()
        while exc is not None:
            seen.add(id(exc))
            kind = type(exc)
            name = kind.__qualname__ if kind.__module__ == "builtins" else f"{kind.__module__}.{kind.__qualname__}"
            parts.append(
                "Traceback (most recent call last):\n" + "".join(traceback.format_tb(exc.__traceback__)) + name
            )
            if exc.__cause__ is not None:
                link, exc = "The above exception was the direct cause of the following exception:", exc.__cause__
            elif exc.__context__ is not None and not exc.__suppress_context__:
                link, exc = "During handling of the above exception, another exception occurred:", exc.__context__
            else:
                break
            if id(exc) in seen:
                break
            parts.append(link)
        # the innermost cause first, as Python prints a chain
        return "\n\n".join(reversed(parts))


def logging_config(settings: Settings) -> dict[str, Any]:
    """The dictConfig of every process (uvicorn applies it in each of its worker processes)."""
    level = settings.log_level.value.upper()
    quiet: int = max(logging.WARNING, logging.getLevelName(level))
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {
            "line": {
                "()": WithholdingFormatter,
                "fmt": "%(asctime)s %(levelname)s %(process)d %(name)s: %(message)s",
            }
        },
        "handlers": {"stderr": {"class": "logging.StreamHandler", "stream": "ext://sys.stderr", "formatter": "line"}},
        "root": {"handlers": ["stderr"], "level": level},
        "loggers": {name: {"level": quiet} for name in QUIET_LOGGERS},
    }


def configure_logging(settings: Settings) -> None:
    logging.config.dictConfig(logging_config(settings))
