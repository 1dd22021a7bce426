"""Who is in a room, the same on every process: `members(roomId)` and `presence(roomId, diff)` pushes."""

from __future__ import annotations

import asyncio

from core.api import (ClientError, Field, Param, PluginConfig, PluginContext, ProcessDown, RoomEntered,
                      RoomEvent, RoomLeft, StoreUnavailable, text)

from .diffs import DiffBatcher
from .roster import Roster
from .tracker import Tracker

name = "presence"


class Config(PluginConfig):
    """Options of the member list."""

    # Members listed in a members() answer (oldest first); the counts beside them stay exact.
    max_members_listed: int = Field(100, ge=1, le=10_000)
    # Seconds changes are gathered before one diff per room goes out (also the most a diff waits).
    diff_interval: float = Field(0.2, gt=0, le=1.0)
    # Seconds between checks for members of processes that stopped (on top of the cluster's
    # liveness expiry); also how soon entries the store lost are written again.
    sweep_interval: float = Field(5.0, gt=0, le=60)
    # Roster changes that may wait while the store is unreachable; beyond, the oldest are dropped
    # (counted and logged).
    max_pending_changes: int = Field(10_000, ge=100)
    # The page that shows the member list (group_chat's); null when that page is not served.
    page: str | None = "/groupchat"


def setup(ctx: PluginContext) -> None:
    """Follow room entries and leaves, answer members(roomId), push diffs, add the member list to the page."""
    cfg: Config = ctx.config
    tasks: list[asyncio.Task] = []  # the tracker and the sweep, from startup to shutdown

    async def push_diff(room: str, diff: dict) -> None:
        await ctx.emit("presence", room, diff, room=room)

    diffs = DiffBatcher(push_diff, cfg.diff_interval, cfg.max_members_listed, ctx.logger)

    roster = Roster(ctx.store, ctx.cluster.process_id)
    tracker = Tracker(roster, ctx.cluster.processes, diffs.add, ctx.logger, cfg.max_pending_changes)

    @ctx.health
    def figures() -> dict:
        # Roster changes lost while the store was away: the lists may be wrong until those leave.
        return {"pending_changes": tracker.pending, "dropped_changes": tracker.dropped,
                "local_connections": len(tracker.local)}

    # One subscription for both kinds: entries and leaves are applied in the order they happened.
    @ctx.subscribe(RoomEvent)
    async def followed(event: RoomEvent) -> None:
        if isinstance(event, RoomLeft):
            tracker.left(event.sid, event.room, event.reason)
        elif isinstance(event, RoomEntered):
            tracker.entered(event.sid, event.room, event.nickname)

    @ctx.subscribe(ProcessDown)
    async def process_down(event: ProcessDown) -> None:
        tracker.release(event.process_id)

    @ctx.on_disconnect
    async def disconnected(sid: str, reason) -> None:
        tracker.gone(sid)

    @ctx.on("members", Param("roomId", text(1024)))
    async def members(sid: str, room: str):
        if room not in ctx.rooms(sid):
            raise ClientError(f"members: you are not in room {room!r}; send entry first")
        try:
            live = set(await ctx.cluster.processes())
            return await roster.members(room, live, cfg.max_members_listed)
        except StoreUnavailable:
            raise ClientError("members: the member list is unavailable right now "
                              "(the shared store cannot be reached)") from None

    async def sweep_every_interval() -> None:
        while True:
            tracker.sweep()
            await asyncio.sleep(cfg.sweep_interval)

    @ctx.on_startup
    async def start() -> None:
        try:
            await roster.register()
        except StoreUnavailable as exc:  # the sweep registers it once the store is back
            ctx.logger.warning("presence: the store is unreachable at start (%s)", exc)
        loop = asyncio.get_running_loop()
        tasks.extend([loop.create_task(tracker.run(), name="presence-tracker"),
                      loop.create_task(sweep_every_interval(), name="presence-sweep")])

    @ctx.on_shutdown
    async def stop() -> None:
        # Leave cleanly: survivors' members hear "left" now, not after the liveness expiry.
        for task in tasks:
            task.cancel()
        tasks.clear()
        try:
            diffs.add(await asyncio.wait_for(tracker.retire(), 1.0))
        except (StoreUnavailable, asyncio.TimeoutError) as exc:
            ctx.logger.warning("presence: could not remove this process's members at shutdown (%s); "
                               "the other processes release them when its liveness expires",
                               type(exc).__name__)
        await diffs.close()

    if cfg.page:
        ctx.extend_page(cfg.page, script="presence.js", style="presence.css")
