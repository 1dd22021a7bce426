"""The default backplane: rooms live in this process only; nothing to install."""

from __future__ import annotations

import logging

from core.sio.fanout import FanoutManager
from core.base.settings import Settings

# Several workers would each see only their own clients.
SINGLE_PROCESS_ONLY = True


class Config(Settings):
    """The memory backplane has no options."""


def create(config: Config, logger: logging.Logger) -> FanoutManager:
    """python-socketio's in-process manager, with core's broadcast fast path."""
    return FanoutManager()
