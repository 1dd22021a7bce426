"""python-socketio's own Redis pub/sub manager, kept for comparison: it drops what is sent during an outage.

Cluster events and requests ride the same pub/sub channel, with the same (lossy) guarantees.
There are no heartbeats: processes() knows only this process, a request waits its whole
timeout for answers, and no ProcessDown is ever announced. Use the "redis" backplane for those.
"""

from __future__ import annotations

import json
import logging

import redis.asyncio as aioredis
import socketio

from core.backplane.cluster_rpc import ClusterRPC, RPCBackplane
from core.backplane.redis_store import RedisStore
from core.base.settings import Settings

SINGLE_PROCESS_ONLY = False


class Config(Settings):
    """Where Redis is and the pub/sub channel name."""

    url: str = "redis://127.0.0.1:6379/0"
    channel: str = "chat"


class PubSubManager(socketio.AsyncRedisManager):
    """The upstream AsyncRedisManager; messages of kind "cluster" go to the cluster layer."""

    on_cluster_message = None

    async def _listen(self):
        async for raw in super()._listen():
            try:
                data = json.loads(raw)
            except (TypeError, ValueError):
                yield raw
                continue
            if isinstance(data, dict) and data.get("method") == "cluster":
                if data.get("host_id") != self.host_id and self.on_cluster_message is not None:
                    await self.on_cluster_message(data)
                continue
            yield data

    async def publish_cluster(self, message: dict) -> None:
        await self._publish({**message, "host_id": self.host_id})


class PubSubBackplane(RPCBackplane):
    """The upstream manager, a Redis store, cluster events and requests over pub/sub."""

    kind = "redis_pubsub"

    def __init__(self, config: Config, logger: logging.Logger):
        self.config = config
        self._manager = PubSubManager(config.url, channel=config.channel, logger=logger)
        self._id = self._manager.host_id
        self._rpc = ClusterRPC(self._id, self._manager.publish_cluster, lambda: [], logger,
                               wait_for_all=False)
        self._manager.on_cluster_message = self._rpc.received
        self._store_redis = aioredis.Redis.from_url(config.url, socket_connect_timeout=1, socket_timeout=2)
        self._rpc.serve_room_queries(self._manager)

    def store(self, namespace):
        return RedisStore(self._store_redis, f"{self.config.channel}:store:", namespace)

    async def processes(self):
        return [self._id]

    async def start(self):
        """The manager connects by itself."""

    async def close(self):
        await self._rpc.close()
        await self._store_redis.aclose()

    def health(self):
        return {"connected": True, "buffered": 0, "dropped": 0, "cluster": self._rpc.health()}


def create(config: Config, logger: logging.Logger) -> PubSubBackplane:
    """The upstream AsyncRedisManager with the cluster layer on its channel."""
    return PubSubBackplane(config, logger)
