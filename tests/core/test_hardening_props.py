"""Property tests: any JSON, as any argument of any event, in any number, against one real server process.

For every example the sender gets an ack that is {"ok": true} or {"ok": false, "error": "<reason>"}
exactly when the contract says so, what is relayed equals what was sent (to the sender and to a
bystander on the other transport), nothing is relayed for a refusal, and a JS watcher keeps
receiving canary broadcasts. At the end the server is still the same process with a clean log.

Hypothesis drives a synchronous test that runs each example on one event loop kept for the whole
run, so the server and the clients stay connected across examples (and while shrinking).
"""

from __future__ import annotations

import asyncio
import itertools
import json

import pytest
import socketio
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from tests.support.clients import JsClient
from tests.support.raw import LogMark, RawWebSocket, health, parse_event

# The group_chat defaults (config.yaml) the contract below is written against.
MAX_ROOM, MAX_NICK, MAX_ROOMS = 64, 32, 10
ROOM = "props-room"  # the sender and the bystander are both in it
ARITY = {"broadcast": 1, "test1": 2, "test2": 1, "entry": 2, "groupmsg": 2}
RELAY = {"broadcast": "receiveAll", "test1": "receive1", "test2": "receive2"}
# Names python-socketio dispatches to core's own handlers: see test_hardening_wire's reserved-name tests.
RESERVED = {"connect", "disconnect", "*"}
OK = {"ok": True}
EXAMPLES = 100
CANARY_EVERY = 10
TIMEOUT = 5.0

# Integers written with more than 100 characters are refused as malformed (core/sio/server.py
# _bounded_int), which closes the connection: test_integer_length_limit covers that; here they stay
# within 99 digits and a sign.
BIG = 10 ** 99 - 1
json_values = st.recursive(
    st.none() | st.booleans() | st.integers(min_value=-BIG, max_value=BIG)
    | st.floats(allow_nan=False, allow_infinity=False) | st.text(),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=12,
)
names = st.text(min_size=1, max_size=MAX_ROOM + 4) | st.sampled_from([ROOM, " ", "\t", "a\nb", "x" * (MAX_ROOM + 1)])
unknown_events = st.sampled_from(["nosuchevent", "connect_error", "message", ""]) | st.text(max_size=20).filter(
    lambda name: name not in RESERVED and name not in ARITY)


def argument(event: str, index: int):
    if event in ("entry", "groupmsg") and index == 0:
        return st.just(ROOM) | names | json_values
    if event == "entry":
        return names | json_values
    if event == "test2":
        return st.dictionaries(st.text(max_size=8), json_values, max_size=4) | json_values
    return json_values


@st.composite
def calls(draw):
    event = draw(st.sampled_from(list(ARITY))) if draw(st.integers(0, 9)) < 8 else draw(unknown_events)
    if event not in ARITY or draw(st.integers(0, 4)) == 0:
        return event, draw(st.lists(json_values, max_size=4))  # any number of arguments
    return event, [draw(argument(event, i)) for i in range(ARITY[event])]


def valid_name(value, max_length: int) -> bool:
    """group_chat's check with the default allowed_name_characters (no control characters)."""
    return (isinstance(value, str) and bool(value.strip()) and len(value) <= max_length
            and not any(ord(c) < 0x20 or ord(c) == 0x7F for c in value))


def acceptable(event: str, args: list, rooms: dict[str, str]) -> bool:
    """Whether the contract accepts this call from a sender in `rooms` (room -> nickname)."""
    if len(args) != ARITY.get(event, -1):
        return False
    if event == "test2":
        return isinstance(args[0], dict)
    if event == "entry":
        room, nick = args
        return (valid_name(room, MAX_ROOM) and valid_name(nick, MAX_NICK)
                and (room in rooms or len(rooms) < MAX_ROOMS))
    if event == "groupmsg":
        return valid_name(args[0], MAX_ROOM) and args[0] in rooms
    return True


def assert_ack_shape(ack) -> None:
    assert isinstance(ack, dict), f"ack is not an object: {ack!r}"
    if ack.get("ok") is True:
        assert ack == OK, ack
    else:
        assert set(ack) == {"ok", "error"} and ack["ok"] is False, ack
        assert isinstance(ack["error"], str) and ack["error"].strip(), ack


class Recorder:
    """A python-socketio client recording every event in order; reads up to the next marker."""

    def __init__(self, url: str, transport: str):
        self.url = url
        self.transport = transport
        self.events: list[tuple[str, list]] = []
        self.read = 0
        self.changed = asyncio.Event()
        self.gone = asyncio.Event()
        self.sio = socketio.AsyncClient(reconnection=False)
        self.sio.on("*", self._record)
        self.sio.on("disconnect", lambda reason=None: self.gone.set())

    def _record(self, event, *args):
        self.events.append((event, list(args)))
        self.changed.set()

    async def connect(self) -> "Recorder":
        await self.sio.connect(self.url, transports=[self.transport], wait_timeout=TIMEOUT)
        return self

    async def call(self, event: str, args: tuple):
        """The ack of event(*args); fails at once when the server drops the connection instead."""
        call = asyncio.ensure_future(self.sio.call(event, args, timeout=TIMEOUT))
        gone = asyncio.ensure_future(self.gone.wait())
        await asyncio.wait([call, gone], return_when=asyncio.FIRST_COMPLETED)
        gone.cancel()
        if not call.done():
            call.cancel()
            raise AssertionError(f"the server dropped the connection on {event}{args!r}")
        try:
            return call.result()
        except socketio.exceptions.TimeoutError:
            raise AssertionError(f"no ack within {TIMEOUT}s for {event}{args!r}") from None

    async def until(self, marker: str) -> list[tuple[str, list]]:
        """Events since the last call, up to (without) the broadcast of `marker`."""
        async def arrived():
            while ("receiveAll", [marker]) not in self.events[self.read:]:
                self.changed.clear()
                await self.changed.wait()

        await asyncio.wait_for(arrived(), TIMEOUT)
        end = self.events.index(("receiveAll", [marker]), self.read)
        got, self.read = self.events[self.read:end], end + 1
        return got

    async def close(self) -> None:
        await self.sio.eio.disconnect(abort=True)


class World:
    """The sender, a bystander in ROOM on long-polling, a JS canary watcher, and what the sender joined."""

    def __init__(self, url: str):
        self.url = url
        self.markers = itertools.count(1)
        self.examples = 0
        self.canaries = 0
        self.sender: Recorder | None = None
        self.rooms: dict[str, str] = {}
        self.nick = "bystander"
        self.tally: dict[tuple[str, bool], int] = {}  # (event, accepted) -> calls

    async def open(self) -> "World":
        self.bystander = await Recorder(self.url, "polling").connect()
        assert await self.bystander.sio.call("entry", (ROOM, self.nick), timeout=TIMEOUT) == OK
        self.watcher = await JsClient(self.url, transports=["websocket"]).connect()
        await self.new_sender()
        return self

    async def new_sender(self) -> None:
        if self.sender is not None:
            await self.sender.close()
        self.sender = await Recorder(self.url, "websocket").connect()
        self.rooms = {ROOM: "sender"}
        assert await self.sender.sio.call("entry", (ROOM, "sender"), timeout=TIMEOUT) == OK
        await self.settle()

    async def settle(self) -> tuple[list, list]:
        """A marker broadcast from the sender; the events each recorder got before it."""
        marker = f"marker-{next(self.markers)}"
        assert await self.sender.sio.call("broadcast", (marker,), timeout=TIMEOUT) == OK
        return await self.sender.until(marker), await self.bystander.until(marker)

    def expected(self, event: str, args: list, old_nick: str | None) -> tuple[list, list]:
        """What the sender and the bystander receive for an accepted call."""
        if event in RELAY:
            return [(RELAY[event], args)], [(RELAY[event], args)]
        if event == "entry":
            room, nick = args
            mine = [("entryok", [f"You entered room {room} as {nick}"])]
            if room == ROOM and old_nick != nick:
                return mine, [("entryok", [f"{old_nick} is now {nick}"])]
            return mine, []
        room, msg = args  # groupmsg
        relayed = [("receiveGroupMsg", [room, msg])]
        return relayed, relayed if room == ROOM else []

    async def check(self, event: str, args: list) -> None:
        # A fresh sender when the last one was dropped (so a failing example replays the same way
        # while Hypothesis shrinks it) or has used up its rooms (so entries stay meaningful).
        if not self.sender.sio.connected or len(self.rooms) >= MAX_ROOMS:
            await self.new_sender()
        self.examples += 1
        ok_expected = acceptable(event, args, self.rooms)
        ack = await self.sender.call(event, tuple(args))
        assert_ack_shape(ack)
        assert (ack == OK) == ok_expected, f"{event}{tuple(args)!r} -> {ack!r}"
        key = (event if event in ARITY else "(unknown)", ack == OK)
        self.tally[key] = self.tally.get(key, 0) + 1
        old_nick = None
        if ack == OK and event == "entry":
            old_nick = self.rooms.get(args[0])
            self.rooms[args[0]] = args[1]
        to_sender, to_bystander = self.expected(event, args, old_nick) if ack == OK else ([], [])
        got_sender, got_bystander = await self.settle()
        assert got_sender == to_sender
        assert got_bystander == to_bystander
        if self.examples % CANARY_EVERY == 0:
            await self.canary()

    async def canary(self) -> None:
        """A broadcast from the JS watcher reaches the bystander and the watcher itself."""
        self.canaries += 1
        text = f"canary-{self.canaries}"
        assert await self.watcher.call("broadcast", text, timeout=TIMEOUT) == OK
        while await self.watcher.expect("receiveAll", timeout=TIMEOUT) != [text]:
            pass
        marker = f"after-{text}"
        assert await self.sender.sio.call("broadcast", (marker,), timeout=TIMEOUT) == OK
        assert await self.bystander.until(marker) == [("receiveAll", [text])]
        await self.sender.until(marker)
        assert self.watcher.inbox.all("disconnect") == []

    async def close(self) -> None:
        for recorder in (self.sender, getattr(self, "bystander", None)):
            if recorder is not None:
                await recorder.close()
        if getattr(self, "watcher", None) is not None:
            await self.watcher.close()


def finish(loop: asyncio.AbstractEventLoop, *closing) -> None:
    """Run the closing coroutines, cancel whatever the clients left running, close the loop."""
    try:
        for coro in closing:
            try:
                loop.run_until_complete(asyncio.wait_for(coro, TIMEOUT))
            except Exception:  # a client already gone: nothing to close
                pass
        pending = asyncio.all_tasks(loop)
        for task in pending:
            task.cancel()

        async def drain():
            await asyncio.gather(*pending, return_exceptions=True)

        loop.run_until_complete(drain())
        loop.run_until_complete(loop.shutdown_asyncgens())
    finally:
        loop.close()


@pytest.fixture(scope="module")
def props_server(module_server):
    return module_server({"server": {"rate_limit": {"messages_per_second": 10000, "burst": 10000}}})


def test_any_json_as_any_argument_of_any_event(props_server):
    mark = LogMark(props_server)
    pid = health(props_server.url)["pid"]
    loop = asyncio.new_event_loop()
    world = World(props_server.url)
    try:
        loop.run_until_complete(world.open())

        @settings(max_examples=EXAMPLES, deadline=None, database=None,
                  suppress_health_check=list(HealthCheck))
        @given(call=calls())
        @example(call=("broadcast", [{"_placeholder": True, "num": 0}]))  # looks like a binary attachment
        @example(call=("test2", [{"__proto__": {"polluted": True}}]))
        @example(call=("entry", [ROOM, "sender"]))  # re-entry under the same name: no notice
        @example(call=("groupmsg", [ROOM, None]))
        @example(call=("test1", [None, None]))
        @example(call=("broadcast", []))
        @example(call=("broadcast", [1, 2, 3, 4]))
        @example(call=("entry", ["\u00a0", "nick"]))  # blank after strip()
        @example(call=("groupmsg", [[ROOM], "x"]))
        @example(call=("broadcast", [2 ** 80, -(2 ** 80), 1e308, -0.0, 5e-324]))
        def property_holds(call):
            loop.run_until_complete(world.check(*call))

        property_holds()
        loop.run_until_complete(world.canary())
        assert world.canaries >= EXAMPLES // CANARY_EVERY
    finally:
        finish(loop, world.close())
    status = health(props_server.url)
    assert status["pid"] == pid and props_server.proc.poll() is None  # never crashed or restarted
    print(f"\n{world.examples} calls, {world.canaries} canaries; server rss {status['rss_kib']} KiB; "
          f"(event, accepted) -> calls: {dict(sorted(world.tally.items()))}")
    accepted = sum(n for (_, ok), n in world.tally.items() if ok)
    assert accepted >= 10 and world.examples - accepted >= 10  # both sides of the contract exercised
    assert "Traceback" not in mark.new(), mark.new()


# Raw frames -------------------------------------------------------------------------------------------------

PREFIXES = ["", "0", "1", "2", "3", "4", "40", "41", "42", "43", "44", "45", "46", "421", "431", "5", "6", "b", "9"]
json_text = json_values.map(lambda v: json.dumps(v))
frames = st.tuples(st.sampled_from(PREFIXES), json_text | st.text(max_size=30)).map("".join) | st.binary(max_size=30)


async def _frame_outcome(url: str, frame) -> str:
    """Send one frame on a fresh joined websocket; 'closed', 'alive' (a call still acks) or 'stalled'."""
    raw = await RawWebSocket.open(url)
    try:
        await raw.send(frame)
        try:
            await asyncio.wait_for(raw.call("broadcast", "probe"), 0.5)
            return "alive"
        except asyncio.TimeoutError:
            return "stalled"
        except Exception:  # the server closed it
            return "closed"
    finally:
        await raw.close()


def test_any_websocket_frame_costs_at_most_its_own_connection(props_server):
    mark = LogMark(props_server)
    pid = health(props_server.url)["pid"]
    loop = asyncio.new_event_loop()
    outcomes: dict[str, int] = {}
    watcher = Recorder(props_server.url, "websocket")
    try:
        loop.run_until_complete(watcher.connect())
        canaries = itertools.count(1)

        @settings(max_examples=60, deadline=None, database=None, suppress_health_check=list(HealthCheck))
        @given(frame=frames)
        def property_holds(frame):
            outcome = loop.run_until_complete(_frame_outcome(props_server.url, frame))
            outcomes[outcome] = outcomes.get(outcome, 0) + 1
            text = f"canary-{next(canaries)}"

            async def canary():
                assert await watcher.sio.call("broadcast", (text,), timeout=TIMEOUT) == OK
                await watcher.until(text)

            loop.run_until_complete(canary())

        property_holds()
    finally:
        finish(loop, watcher.close())
    print(f"\nframe outcomes: {outcomes}")
    assert health(props_server.url)["pid"] == pid and props_server.proc.poll() is None
    assert outcomes.get("closed", 0) > 0  # the generator does reach the malformed-packet path
    assert "Traceback" not in mark.new(), mark.new()


# Numbers JSON does not have ---------------------------------------------------------------------------------


@pytest.mark.parametrize("number", ["NaN", "Infinity", "-Infinity"])
async def test_non_json_numbers_are_refused_and_do_not_disconnect_browsers(props_server, clients, number):
    audience = [await clients.js(props_server.url, transports=[t]) for t in ("websocket", "polling")]
    raw = await RawWebSocket.open(props_server.url)
    try:
        await raw.send(f'4291["broadcast",{number}]')
        frame = await raw.recv_matching(lambda f: isinstance(f, str) and f.startswith(("4391", "1")), timeout=3)
        await asyncio.sleep(0.3)
    finally:
        await raw.close()
    for client in audience:
        dropped = client.inbox.all("disconnect")
        assert dropped == [], f"{client.transport} client dropped: {dropped}"
    assert frame.startswith("4391[") and json.loads(frame[4:])[0]["ok"] is False, frame
    assert all(parse_event(f) is None or parse_event(f)[0] != "receiveAll" for f in raw.seen)
