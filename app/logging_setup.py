"""Log output: one JSON object a line (default) or readable text, for the service and uvicorn.

Every record logged while a request is served carries its request id. Request lines come from
the `semsearch.access` logger with their fields in `extra={"fields": {...}}`.
"""

import json
import logging
import time
from contextvars import ContextVar
from typing import Any

REQUEST_ID: ContextVar[str | None] = ContextVar("semsearch_request_id", default=None)
ACCESS_LOGGER = "semsearch.access"


def _timestamp(record: logging.LogRecord) -> str:
    seconds = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
    return f"{seconds}.{int(record.msecs):03d}Z"


def _fields(record: logging.LogRecord) -> dict[str, Any]:
    fields: dict[str, Any] = dict(getattr(record, "fields", None) or {})
    request_id = REQUEST_ID.get()
    if request_id is not None:
        fields.setdefault("request_id", request_id)
    return fields


class JsonFormatter(logging.Formatter):
    """`{"ts", "level", "logger", "msg", ...fields, "exc"?}` on one line."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "ts": _timestamp(record),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        line.update(_fields(record))
        if record.exc_info:
            line["exc"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str)  # ASCII: no character can break the line


class TextFormatter(logging.Formatter):
    """`ts LEVEL logger: msg key=value ...`, then any traceback."""

    def format(self, record: logging.LogRecord) -> str:
        pairs = " ".join(f"{k}={v}" for k, v in _fields(record).items())
        text = f"{_timestamp(record)} {record.levelname} {record.name}: {record.getMessage()}"
        if pairs:
            text = f"{text} {pairs}"
        if record.exc_info:
            text = f"{text}\n{self.formatException(record.exc_info)}"
        return text


def formatter_class(log_format: str) -> type[logging.Formatter]:
    return JsonFormatter if log_format == "json" else TextFormatter


def logging_config(log_format: str, level: str) -> dict[str, Any]:
    """A dictConfig for the root logger and uvicorn's loggers, all through one handler.
    uvicorn's access log is left out: the service writes its own line per request."""
    cls = formatter_class(log_format)
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"service": {"()": f"{cls.__module__}.{cls.__qualname__}"}},
        "handlers": {
            "stderr": {
                "class": "logging.StreamHandler",
                "formatter": "service",
                "stream": "ext://sys.stderr",
            }
        },
        "root": {"handlers": ["stderr"], "level": level.upper()},
        "loggers": {
            "uvicorn": {"handlers": [], "level": level.upper(), "propagate": True},
            "uvicorn.error": {"handlers": [], "level": level.upper(), "propagate": True},
            "uvicorn.access": {"handlers": [], "level": "WARNING", "propagate": False},
        },
    }
