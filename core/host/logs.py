"""Log output: readable lines, or one JSON object per line (`server.log_format: json`)."""

from __future__ import annotations

import atexit
import json
import logging
import os
import shutil
import tempfile

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class JsonLines(logging.Formatter):
    """One JSON object per record: time, level, logger, message, the record's `fields`, traceback."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {"time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S") + f".{int(record.msecs):03d}",
                 "level": record.levelname, "logger": record.name, "message": record.getMessage(),
                 "pid": record.process}
        entry.update(getattr(record, "fields", None) or {})  # e.g. connect/disconnect: sid, address
        if record.exc_info:
            entry["traceback"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


def configure_logging(level: str, fmt: str) -> None:
    """The root logger at level, in the text or JSON format."""
    handler = logging.StreamHandler()
    handler.setFormatter(JsonLines() if fmt == "json" else logging.Formatter(LOG_FORMAT))
    logging.basicConfig(level=level, handlers=[handler], force=True)


def share_metrics_between_workers() -> str:
    """A fresh directory where every worker's prometheus_client series go (set before they start)."""
    path = tempfile.mkdtemp(prefix="chat-metrics-")
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = path
    atexit.register(shutil.rmtree, path, ignore_errors=True)
    return path
