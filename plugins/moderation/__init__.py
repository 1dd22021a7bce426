"""Moderation on the pre-send hook: a blocked-word list, per-room mutes and kicks, on every process.

Mutes and kicks are kept in the shared store (`blocks:<room>`: nickname -> until when and why),
so a moderator on one process silences a member on any other. A moderator proves it with one
of the configured tokens as the last argument of mute/unmute/kick.
"""

from __future__ import annotations

import hmac
import time
from typing import Literal

from core.api import (ClientError, Field, Outgoing, Param, PluginConfig, PluginContext, RoomEntered,
                      RoomEvent, RoomLeft, StoreUnavailable, field_validator, text)

from .words import WordFilter

name = "moderation"


class Config(PluginConfig):
    """Options of moderation (the plugin is disabled unless enabled in config.yaml)."""

    # Words and phrases refused or masked in chat messages (whole words, any case).
    blocked_words: list[str] = []
    word_action: Literal["refuse", "mask"] = "refuse"
    mask_character: str = Field("*", min_length=1, max_length=1)
    # Outgoing events moderated: the chat messages clients send (the others are server notices).
    events: list[str] = ["receiveGroupMsg", "receiveAll", "receive1", "receive2"]
    # Tokens that allow mute/unmute/kick; empty: nobody may (better set from the environment,
    # CHAT_PLUGINS__MODERATION__MODERATOR_TOKENS='[a-long-secret]').
    moderator_tokens: list[str] = []
    max_mute_seconds: int = Field(86_400, ge=1)
    # Seconds a kicked nickname's messages to that room are refused after the kick.
    kick_block_seconds: int = Field(300, ge=0)
    # The page that shows moderation notices (group_chat's); null when that page is not served.
    page: str | None = "/groupchat"

    @field_validator("moderator_tokens")
    @classmethod
    def _long_enough(cls, tokens: list[str]) -> list[str]:
        short = [t for t in tokens if len(t) < 8]
        if short:
            raise ValueError("moderator tokens must be at least 8 characters long")
        return tokens


def block_key(room: str) -> str:
    return f"blocks:{room}"


def seconds(value) -> str | None:
    """A check for Param: a whole number of seconds, at least 1."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        return "must be a whole number of seconds, at least 1"
    return None


def setup(ctx: PluginContext) -> None:
    """Register mute/unmute/kick, the before_send hook and the page's notices."""
    cfg: Config = ctx.config
    words = WordFilter(cfg.blocked_words, cfg.mask_character)
    moderated = frozenset(cfg.events)
    warned: dict = {}
    room_id, nick_name = Param("roomId", text(1024)), Param("nickName", text(1024))
    token = Param("token", text(1024))

    # Nicknames of local connections per room, from the room events in the order they happened
    # (the sender of a message is always a connection of the process that runs the hook).
    @ctx.subscribe(RoomEvent)
    async def followed(event: RoomEvent) -> None:
        try:
            async with ctx.session(event.sid) as state:
                rooms = state.setdefault("rooms", {})
                if isinstance(event, RoomLeft):
                    rooms.pop(event.room, None)
                elif isinstance(event, RoomEntered):
                    rooms[event.room] = event.nickname
        except KeyError:
            pass  # disconnected meanwhile

    async def block_of(room: str, nick: str) -> dict | None:
        """The active mute or kick of nick in room, if any."""
        value = await ctx.store.hash_get(block_key(room), nick)
        if isinstance(value, dict) and value.get("until", 0) > time.time():
            return value
        return None

    @ctx.before_send
    async def moderate(msg: Outgoing) -> Outgoing | None:
        if msg.sender is None or msg.event not in moderated:
            return None
        if msg.room is not None:
            async with ctx.session(msg.sender) as state:
                nick = state.get("rooms", {}).get(msg.room)
            try:
                block = await block_of(msg.room, nick) if nick else None
            except StoreUnavailable as exc:  # keep the chat going; say so once per outage
                if not warned.get("store"):
                    warned["store"] = True
                    ctx.logger.warning("moderation: the store is unreachable (%s); mutes are not "
                                       "checked until it is back", exc)
                block = None
            else:
                warned.pop("store", None)
            if block is not None:
                left_s = max(1, round(block["until"] - time.time()))
                what = "removed from" if block.get("why") == "kicked" else "muted in"
                raise ClientError(f"you were {what} room {msg.room!r} by a moderator; "
                                  f"you may send again in {left_s} s")
        if words.found(msg.args):
            if cfg.word_action == "refuse":
                raise ClientError("message refused: it contains a blocked word")
            return msg.replace(args=words.masked(msg.args))
        return None

    def check_token(event: str, given: str) -> None:
        if not any(hmac.compare_digest(given.encode(), t.encode()) for t in cfg.moderator_tokens):
            raise ClientError(f"{event}: not allowed (not a moderator token)")

    async def notify(room: str, action: str, nick: str, **extra) -> None:
        await ctx.emit("moderation", room, {"action": action, "nickName": nick, **extra}, room=room)

    async def set_block(room: str, nick: str, why: str, duration: int) -> float:
        until = time.time() + duration
        await ctx.store.hash_set(block_key(room), nick, {"until": until, "why": why})
        # Blocks end by themselves: the room's hash goes once its longest block could be over.
        await ctx.store.expire(block_key(room), max(cfg.max_mute_seconds, cfg.kick_block_seconds, 1))
        return until

    @ctx.on("mute", room_id, nick_name, Param("seconds", seconds), token)
    async def mute(sid, room, nick, duration, given):
        check_token("mute", given)
        duration = min(duration, cfg.max_mute_seconds)
        until = await set_block(room, nick, "muted", duration)
        ctx.logger.info("moderation: %s muted %r in room %r for %d s", ctx.describe(sid), nick, room, duration)
        await notify(room, "muted", nick, seconds=duration)
        return {"until": round(until)}

    @ctx.on("unmute", room_id, nick_name, token)
    async def unmute(sid, room, nick, given):
        check_token("unmute", given)
        removed = await ctx.store.hash_delete(block_key(room), nick)
        ctx.logger.info("moderation: %s unmuted %r in room %r", ctx.describe(sid), nick, room)
        if removed:
            await notify(room, "unmuted", nick)
        return {"removed": bool(removed)}

    @ctx.on("kick", room_id, nick_name, token)
    async def kick(sid, room, nick, given):
        check_token("kick", given)
        if cfg.kick_block_seconds:
            await set_block(room, nick, "kicked", cfg.kick_block_seconds)
        sockets = await ctx.cluster.room_sockets(room)
        targets = [s.sid for s in sockets
                   if ((s.session or {}).get(ctx.name) or {}).get("rooms", {}).get(room) == nick]
        await notify(room, "kicked", nick)
        for target in targets:
            # ctx.disconnect reaches a connection of any process through the backplane.
            await ctx.disconnect(target)
        ctx.logger.info("moderation: %s kicked %r from room %r (%d connection(s))",
                        ctx.describe(sid), nick, room, len(targets))
        return {"kicked": len(targets)}

    if cfg.page:
        ctx.extend_page(cfg.page, script="moderation.js")
