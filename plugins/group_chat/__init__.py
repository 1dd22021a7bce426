"""Room chat: enter a room with a nickname, then talk to the members of that room only."""

from __future__ import annotations

import re

from core.api import (ClientError, Field, MessageSent, Param, PluginConfig, PluginContext, RoomEntered, RoomLeft,
                      any_json, field_validator, text)

name = "group_chat"

_PLACEHOLDERS = {"nickName": "x", "roomId": "x", "oldNickName": "x"}


class Config(PluginConfig):
    """Options of the room chat; notices may use {nickName}, {roomId} and {oldNickName}."""

    title: str | None = None  # None: "title" of messages/<lang>.json, in the page's language
    max_room_length: int = Field(64, ge=1, le=1024)
    max_nickname_length: int = Field(32, ge=1, le=1024)
    max_rooms_per_connection: int = Field(10, ge=1)
    # A regular expression one character of a room id or nickname must match (default: no
    # control characters); e.g. "[A-Za-z0-9 _.-]" for plain ASCII names.
    allowed_name_characters: str = r"[^\x00-\x1f\x7f]"
    # None: messages/<lang>.json, in each recipient's language; a string: that, for everybody.
    welcome_notice: str | None = None
    entered_notice: str | None = None
    renamed_notice: str | None = None
    left_notice: str | None = None
    # With connection-state recovery: a member whose connection dropped may come back within
    # server.connection_state_recovery.max_disconnection_duration with rooms and nickname.
    lost_notice: str | None = None
    back_notice: str | None = None

    @field_validator("allowed_name_characters")
    @classmethod
    def _valid_regex(cls, value: str) -> str:
        try:
            re.compile(value)
        except re.error as exc:
            raise ValueError(f"not a valid regular expression: {exc}") from None
        return value

    @field_validator("welcome_notice", "entered_notice", "renamed_notice", "left_notice", "lost_notice",
                     "back_notice")
    @classmethod
    def _known_placeholders(cls, value: str | None) -> str | None:
        if value is None:
            return None
        try:
            value.format(**_PLACEHOLDERS)
        except (KeyError, IndexError, ValueError) as exc:
            raise ValueError(f"unknown placeholder {exc} (use {{nickName}}, {{roomId}}, "
                             f"{{oldNickName}})") from None
        return value


def setup(ctx: PluginContext) -> None:
    """Register entry/groupmsg/leave, the leave notices on disconnect, and the /groupchat pages."""
    cfg: Config = ctx.config
    allowed = re.compile(cfg.allowed_name_characters)
    room_id = Param("roomId", text(cfg.max_room_length, allowed))

    def notice(kind: str, lang: str, room: str, nick: str, old: str = "") -> str:
        template = getattr(cfg, kind) or ctx.messages.text(lang, kind)
        return template.format(roomId=room, nickName=nick, oldNickName=old)

    @ctx.on("entry", room_id, Param("nickName", text(cfg.max_nickname_length, allowed)))
    async def entry(sid, room, nick):
        async with ctx.session(sid) as state:
            rooms: dict[str, str] = state.setdefault("rooms", {})
            old = rooms.get(room)
            if old is None and len(rooms) >= cfg.max_rooms_per_connection:
                raise ClientError(f"entry: you are already in {len(rooms)} rooms, the most allowed")
            rooms[room] = nick
        if old is None:
            # Public room names are shared by every plugin (a typing plugin reaches room=room);
            # core keeps them apart from each client's own sid room.
            await ctx.enter_room(sid, room)
            await ctx.emit_localised("entryok", lambda lang: notice("entered_notice", lang, room, nick),
                                     room=room, skip_sid=sid, sender=sid)
            await ctx.publish(RoomEntered(room=room, nickname=nick, sid=sid, address=ctx.client_address(sid)))
        elif old != nick:
            await ctx.emit_localised("entryok", lambda lang: notice("renamed_notice", lang, room, nick, old),
                                     room=room, skip_sid=sid, sender=sid)
            # Followers of the room events (presence, typing) see the new nickname as leave + entry.
            address = ctx.client_address(sid)
            await ctx.publish(RoomLeft(room=room, nickname=old, sid=sid, address=address, reason="renamed"))
            await ctx.publish(RoomEntered(room=room, nickname=nick, sid=sid, address=address))
        await ctx.emit("entryok", notice("welcome_notice", ctx.language(sid), room, nick), to=sid, sender=sid)

    @ctx.on("groupmsg", room_id, Param("msg", any_json(ctx.server.max_message_size)))
    async def groupmsg(sid, room, msg):
        async with ctx.session(sid) as state:
            nick = state.get("rooms", {}).get(room)
        if nick is None:
            raise ClientError(f"groupmsg: you are not in room {room!r}; send entry first", kind="not_member")
        message_id = await ctx.emit("receiveGroupMsg", room, msg, room=room, sender=sid)
        await ctx.publish(MessageSent(socket_event="groupmsg", room=room, sid=sid, nickname=nick,
                                      address=ctx.client_address(sid), args=[room, msg],
                                      message_id=message_id))

    async def left(sid: str, room: str, nick: str, reason: str, kind: str = "left_notice") -> None:
        await ctx.emit_localised("entryok", lambda lang: notice(kind, lang, room, nick),
                                 room=room, skip_sid=sid)
        await ctx.publish(RoomLeft(room=room, nickname=nick, sid=sid, address=ctx.client_address(sid),
                                   reason=reason))

    @ctx.on("leave", room_id)
    async def leave(sid, room):
        async with ctx.session(sid) as state:
            nick = state.get("rooms", {}).pop(room, None)
        if nick is None:
            raise ClientError(f"leave: you are not in room {room!r}", kind="not_member")
        await ctx.leave_room(sid, room)
        await left(sid, room, nick, "left")

    @ctx.on_disconnect
    async def leave_all(sid, reason):
        recoverable = ctx.recoverable(sid)  # its rooms and nickname are kept for a reconnect
        async with ctx.session(sid) as state:
            rooms: dict[str, str] = state.pop("rooms", {})
        for room, nick in rooms.items():
            await left(sid, room, nick, str(reason), "lost_notice" if recoverable else "left_notice")

    @ctx.on_recover
    async def back(sid, missed):
        # Rooms and nickname came back with the session: no "entered" again, but a "back" notice.
        async with ctx.session(sid) as state:
            rooms: dict[str, str] = dict(state.get("rooms", {}))
        for room, nick in rooms.items():
            await ctx.emit_localised("entryok", lambda lang: notice("back_notice", lang, room, nick),
                                     room=room, skip_sid=sid)
            await ctx.publish(RoomEntered(room=room, nickname=nick, sid=sid, address=ctx.client_address(sid)))

    ctx.add_page("/groupchat", "groupchat.html", cfg.title, standalone_path="/groupchat.html",
                 max_room_length=cfg.max_room_length, max_nickname_length=cfg.max_nickname_length)
