"""python-socketio's own Redis pub/sub manager, kept for comparison: it drops what is sent during an outage."""

from __future__ import annotations

import logging

import socketio

from core.base.settings import Settings

SINGLE_PROCESS_ONLY = False


class Config(Settings):
    """Where Redis is and the pub/sub channel name."""

    url: str = "redis://127.0.0.1:6379/0"
    channel: str = "chat"


def create(config: Config, logger: logging.Logger) -> socketio.AsyncRedisManager:
    """The upstream AsyncRedisManager, unchanged."""
    return socketio.AsyncRedisManager(config.url, channel=config.channel, logger=logger)
