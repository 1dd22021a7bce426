"""Test plugin for ctx.on_join: remembers room messages by id and, on a join, sends what it remembers."""

from __future__ import annotations

import asyncio

from core.api import Join, Outgoing, PluginConfig, PluginContext

name = "join_probe"


class Config(PluginConfig):
    """How long a join hook takes (live messages arrive meanwhile and must be held)."""

    delay: float = 0.3


def setup(ctx: PluginContext) -> None:
    seen: dict[str, list[tuple[str, object]]] = {}  # room -> (message id, msg), this process only

    @ctx.before_send
    def remember(msg: Outgoing) -> None:
        if msg.event == "receiveGroupMsg" and msg.room is not None and msg.id is not None:
            seen.setdefault(msg.room, []).append((msg.id, msg.args[1]))

    @ctx.on_join()
    async def joined(join: Join):
        if join.room is None:
            await ctx.emit("probeConnected", to=join.sid)
            return None
        await asyncio.sleep(ctx.config.delay)
        snapshot = list(seen.get(join.room, ()))
        await ctx.emit("probeJoined", join.room, [m for _, m in snapshot], to=join.sid)
        return {mid for mid, _ in snapshot}
