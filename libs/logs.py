"""Process logging: one line per event (text, or JSON with LOG_FORMAT=json), level from LOG_LEVEL,
exceptions without their text, and the run in context on every record.

An exception's text may quote request or roster data: SQLAlchemy appends the statement's
parameters, Postgres quotes the offending value (`invalid input syntax ...: "<value>"`, `Key
(...)=(...)`, `Failing row contains ...`), pydantic quotes its input. So a logged exception
shows its type and traceback (file, line, function) for every exception in its chain, never its
message. The API, the workers, the scheduler and uvicorn all log through `logging_config`.

A phase sets its run in context (`run_context`, `bind`); `RunFields` copies it onto each record
of its thread, so every line a run's work logs, from the engine or a connector, names the run.
"""

from __future__ import annotations

import logging
import logging.config
import traceback
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from types import MappingProxyType, TracebackType
from typing import Any

from pythonjsonlogger.core import RESERVED_ATTRS
from pythonjsonlogger.json import JsonFormatter

from libs.settings import LogFormat, Settings

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


class JsonLines(WithholdingFormatter, JsonFormatter):
    """One JSON object a line; its `exc_info` is the withheld form above, without the message."""


# run_id, provider_id, tenant_id and phase of the run this thread works on
_RUN: ContextVar[Mapping[str, str]] = ContextVar("log_run", default=MappingProxyType({}))


@contextmanager
def run_context(**fields: object) -> Iterator[None]:
    """Inside, every record of this thread (or task) carries these fields; `bind` adds more."""
    token = _RUN.set({**_RUN.get(), **{name: str(value) for name, value in fields.items()}})
    try:
        yield
    finally:
        _RUN.reset(token)


def bind(**fields: object) -> None:
    """Adds fields to the current run context, until the enclosing `run_context` ends."""
    _RUN.set({**_RUN.get(), **{name: str(value) for name, value in fields.items()}})


def run_field(name: str) -> str | None:
    """One field of the current run context (`tenant_id`, `run_id`, ...), None outside a run."""
    return _RUN.get().get(name)


class RunFields(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.__dict__.update(_RUN.get())
        return True


def logging_config(settings: Settings) -> dict[str, Any]:
    """The dictConfig of every process (uvicorn applies it in each of its worker processes)."""
    level = settings.log_level.value.upper()
    quiet: int = max(logging.WARNING, logging.getLevelName(level))
    text = {"()": WithholdingFormatter, "fmt": "%(asctime)s %(levelname)s %(process)d %(name)s: %(message)s"}
    json = {
        "()": JsonLines,
        "fmt": "%(levelname)s %(process)d %(name)s %(message)s",
        "timestamp": "time",
        "rename_fields": {"levelname": "level", "name": "logger", "exc_info": "exception"},
        # uvicorn's copy of the message with terminal colours
        "reserved_attrs": [*RESERVED_ATTRS, "color_message"],
    }
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"run": {"()": RunFields}},
        "formatters": {"line": json if settings.effective_log_format is LogFormat.JSON else text},
        "handlers": {
            "stderr": {
                "class": "logging.StreamHandler",
                "stream": "ext://sys.stderr",
                "formatter": "line",
                "filters": ["run"],
            }
        },
        "root": {"handlers": ["stderr"], "level": level},
        "loggers": {name: {"level": quiet} for name in QUIET_LOGGERS},
    }


def configure_logging(settings: Settings) -> None:
    logging.config.dictConfig(logging_config(settings))
