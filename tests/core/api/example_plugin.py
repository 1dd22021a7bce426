"""The example plugin a plugin author keeps outside this repository: room members, /me and typing.

Two versions: SOURCE keeps the member list in the process (one server), CLUSTER_SOURCE in
ctx.store (several processes sharing Redis).

Written out by the tests into a temporary folder (for plugin_dirs) or a temporary distribution
(with a chat.plugins entry point), so that nothing of this repository's layout helps it.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

SOURCE = '''
"""Room members, /me and typing, on top of group_chat's rooms, through core.api only."""

from core.api import ClientError, Param, PluginConfig, PluginContext, RoomEntered, RoomEvent, text

name = "members"


class Config(PluginConfig):
    """Options of the members plugin."""

    max_action_length: int = 200


def setup(ctx: PluginContext) -> None:
    """members(room) -> {members}; me(room, action) -> "me" to the room; typing(room) -> "typing"."""
    rooms: dict[str, dict[str, str]] = {}  # this process's view: room -> sid -> nickname
    room_id = Param("room", text(64))

    async def announce(room):
        await ctx.emit("members", room, sorted(rooms.get(room, {}).values()), room=room)

    @ctx.subscribe(RoomEvent)  # entries and leaves in one queue: in the order they happened
    async def changed(event):
        if isinstance(event, RoomEntered):
            rooms.setdefault(event.room, {})[event.sid] = event.nickname
        else:
            rooms.get(event.room, {}).pop(event.sid, None)
        await announce(event.room)

    def nickname(sid, room):
        nick = rooms.get(room, {}).get(sid)
        if nick is None or room not in ctx.rooms(sid):
            raise ClientError(f"you are not in room {room!r}")
        return nick

    @ctx.on("members", room_id)
    async def members(sid, room):
        return {"members": sorted(rooms.get(room, {}).values())}

    @ctx.on("me", room_id, Param("action", text(ctx.config.max_action_length)))
    async def me(sid, room, action):
        await ctx.emit("me", room, f"* {nickname(sid, room)} {action}", room=room, sender=sid)

    @ctx.on("typing", room_id)
    async def typing(sid, room):
        await ctx.emit("typing", room, nickname(sid, room), room=room, skip_sid=sid, sender=sid)

    ctx.extend_page("/groupchat", script="members.js")
'''

# The same plugin with its member list in ctx.store, so that every process sees every member
# (docs/plugins.md, "A cluster-wide example").
CLUSTER_SOURCE = '''
"""Room members on every process: the list lives in ctx.store; /me and typing as in the local one."""

from core.api import ClientError, Param, PluginConfig, PluginContext, ProcessDown, RoomEntered, RoomEvent, text

name = "members"


class Config(PluginConfig):
    """Options of the members plugin."""

    max_action_length: int = 200


def setup(ctx: PluginContext) -> None:
    """members(room) -> {members}; me(room, action) -> "me" to the room; typing(room) -> "typing"."""
    room_id = Param("room", text(64))

    async def names(room):
        return sorted(m["nick"] for m in (await ctx.store.hash_get_all(f"members:{room}")).values())

    async def announce(room):
        await ctx.emit("members", room, await names(room), room=room)

    @ctx.subscribe(RoomEvent)
    async def changed(event):
        if isinstance(event, RoomEntered):
            await ctx.store.hash_set(f"members:{event.room}", event.sid,
                                     {"nick": event.nickname, "process": ctx.cluster.process_id})
            await ctx.store.set_add("rooms", event.room)
        else:
            await ctx.store.hash_delete(f"members:{event.room}", event.sid)
        await announce(event.room)

    @ctx.subscribe(ProcessDown)
    async def process_down(event):
        for room in await ctx.store.set_members("rooms"):
            members = await ctx.store.hash_get_all(f"members:{room}")
            gone = [sid for sid, m in members.items() if m["process"] == event.process_id]
            if gone:
                await ctx.store.hash_delete(f"members:{room}", *gone)
                await announce(room)

    async def nickname(sid, room):
        member = await ctx.store.hash_get(f"members:{room}", sid)
        if member is None or room not in ctx.rooms(sid):
            raise ClientError(f"you are not in room {room!r}")
        return member["nick"]

    @ctx.on("members", room_id)
    async def members(sid, room):
        return {"members": await names(room)}

    @ctx.on("me", room_id, Param("action", text(ctx.config.max_action_length)))
    async def me(sid, room, action):
        await ctx.emit("me", room, f"* {await nickname(sid, room)} {action}", room=room, sender=sid)

    @ctx.on("typing", room_id)
    async def typing(sid, room):
        await ctx.emit("typing", room, await nickname(sid, room), room=room, skip_sid=sid, sender=sid)

    ctx.extend_page("/groupchat", script="members.js")
'''

SCRIPT = '''
// members' addition to /groupchat: who is in the room.
(() => {
  const socket = chat.socket();
  if (!socket) return;
  const list = document.createElement("p");
  list.id = "members";
  document.querySelector("header").after(list);
  socket.on("members", (room, names) => { list.textContent = "In " + room + ": " + names.join(", "); });
})();
'''


def write_plugin(package: Path, cluster: bool = False) -> Path:
    """The plugin as a package folder: __init__.py and static/members.js (cluster: state in ctx.store)."""
    (package / "static").mkdir(parents=True)
    (package / "__init__.py").write_text(textwrap.dedent(CLUSTER_SOURCE if cluster else SOURCE))
    (package / "static" / "members.js").write_text(SCRIPT)
    return package


PYPROJECT = '''
[build-system]
requires = ["setuptools"]
build-backend = "setuptools.build_meta"

[project]
name = "chat-members-example"
version = "0.1.0"

[project.entry-points."chat.plugins"]
members = "chat_members"

[tool.setuptools]
packages = ["chat_members"]

[tool.setuptools.package-data]
chat_members = ["static/*.js"]
'''


def install_distribution(workdir: Path) -> Path:
    """Build the plugin as a distribution and pip-install it into workdir/site; returns that folder."""
    source = workdir / "chat-members-example"
    write_plugin(source / "chat_members")
    (source / "pyproject.toml").write_text(PYPROJECT)
    target = workdir / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-index", "--no-deps",
                    "--no-build-isolation", "--disable-pip-version-check", "--target", str(target),
                    str(source)], check=True, capture_output=True, timeout=120)
    return target
