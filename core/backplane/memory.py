"""The default backplane: rooms live in this process only; nothing to install."""

from __future__ import annotations

import logging

import socketio

from core.settings import Settings

# Several workers would each see only their own clients.
SINGLE_PROCESS_ONLY = True


class Config(Settings):
    """The memory backplane has no options."""


def create(config: Config, logger: logging.Logger) -> socketio.AsyncManager:
    """python-socketio's in-process manager."""
    return socketio.AsyncManager()
