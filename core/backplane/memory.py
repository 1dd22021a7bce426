"""The default backplane: rooms, store and cluster events live in this process only; nothing to install."""

from __future__ import annotations

import logging
import uuid

from core.backplane.cluster_rpc import ClusterRPC, RPCBackplane
from core.backplane.memory_store import MemoryData, MemoryStore
from core.base.settings import Settings
from core.sio.fanout import FanoutManager

# Several workers would each see only their own clients.
SINGLE_PROCESS_ONLY = True


class Config(Settings):
    """The memory backplane has no options."""


class MemoryBackplane(RPCBackplane):
    """A cluster of one: events and requests reach this process, the store is a dict."""

    kind = "memory"
    single_process_only = True

    def __init__(self, logger: logging.Logger):
        self._manager = FanoutManager()
        self._id = uuid.uuid4().hex
        self._data = MemoryData()
        self._rpc = ClusterRPC(self._id, self._nowhere, lambda: [self._id], logger)
        self._rpc.serve_room_queries(self._manager)

    @staticmethod
    async def _nowhere(message: dict) -> None:
        """There is no other process to tell."""

    def store(self, namespace):
        return MemoryStore(self._data, namespace)

    async def processes(self):
        return [self._id]

    async def start(self):
        """Nothing to connect to."""

    async def close(self):
        await self._rpc.close()

    def health(self):
        return {"connected": True, "buffered": 0, "dropped": 0, "cluster": self._rpc.health()}


def create(config: Config, logger: logging.Logger) -> MemoryBackplane:
    """The in-process backplane around python-socketio's manager with core's broadcast fast path."""
    return MemoryBackplane(logger)
