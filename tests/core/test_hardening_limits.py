"""Abuse limits on real processes: message rate, connections per address, origins, tokens, names, rooms."""

from __future__ import annotations

import asyncio

import pytest
import socketio

from tests.support.raw import LogMark, RawWebSocket, eio_url, health, http_status, wait_until, websocket_refused
from tests.support.server import free_port

OK = {"ok": True}


@pytest.fixture(autouse=True)
async def close_raw_websockets():
    yield
    await RawWebSocket.close_all()


async def close_fast(client) -> None:
    """Disconnect a python polling client without waiting for its pending long-poll."""
    await client.sio.eio.disconnect(abort=True)


def refusals(acks) -> list[dict]:
    return [ack for ack in acks if ack != OK]


# Rate limit -------------------------------------------------------------------------------------------------

RATE = {"messages_per_second": 5, "burst": 5, "disconnect_after": 20}


@pytest.fixture(scope="module")
def rate_server(module_server):
    return module_server({"server": {"rate_limit": RATE}})


async def test_sixth_quick_message_is_refused_with_retry_after(rate_server, clients):
    sender = await clients.python(rate_server.url)
    watcher = await clients.js(rate_server.url)
    mark = LogMark(rate_server)
    acks = await asyncio.gather(*(sender.call("broadcast", n) for n in range(6)))
    assert acks.count(OK) == 5
    [refused] = refusals(acks)
    assert refused["ok"] is False, refused
    assert refused["error"].startswith("rate limited: at most 5 messages per second"), refused
    [notice] = await sender.expect("rate_limited")
    assert notice["event"] == "broadcast"
    assert 0 < notice["retry_after"] <= 0.2 + 1e-9  # one token at 5 per second
    assert f"(retry in {notice['retry_after']}s)" in refused["error"]
    await asyncio.sleep(notice["retry_after"] + 0.05)
    assert await sender.call("broadcast", "after waiting") == OK
    # Five relayed, the refused one never, then the one sent after waiting.
    got = [await watcher.expect("receiveAll") for _ in range(6)]
    assert sorted(got[:5]) == [[n] for n in range(5)] and got[5] == ["after waiting"]
    await watcher.assert_none("receiveAll", within=0.2)
    assert len(mark.lines("rate limiting", "more than 5 messages per second")) == 1  # one line per streak
    await sender.assert_none("disconnect", within=0)


async def test_rate_limit_is_per_connection(rate_server, clients):
    greedy = await clients.python(rate_server.url)
    polite = await clients.python(rate_server.url)
    acks = await asyncio.gather(*(greedy.call("test1", n, n) for n in range(8)))
    assert len(refusals(acks)) == 3
    assert await polite.call("test1", "mine", "too") == OK  # its own bucket is full


async def test_every_event_counts_against_the_bucket(rate_server, clients):
    sender = await clients.python(rate_server.url)
    calls = [sender.call("entry", "rate-room", "nick"), sender.call("groupmsg", "rate-room", "hi"),
             sender.call("test2", {"k": 1}), sender.call("nosuchevent"), sender.call("test1", 1, 2),
             sender.call("broadcast", "one too many")]
    acks = await asyncio.gather(*calls)
    assert acks[-1]["ok"] is False and acks[-1]["error"].startswith("rate limited"), acks


async def test_flood_disconnects_the_client_with_one_log_line(rate_server, clients):
    bystander = await clients.python(rate_server.url)
    flooder = await clients.python(rate_server.url)
    mark = LogMark(rate_server)
    sid = flooder.sio.get_sid("/")
    for n in range(60):
        await flooder.emit("broadcast", n)
    await flooder.expect("disconnect")
    await asyncio.sleep(0.5)  # let the rest of the flood reach the server
    assert len(mark.lines("rate limiting", sid)) == 1, mark.new()
    assert len(mark.lines("disconnecting", sid, "20 messages refused in a row")) == 1, mark.new()
    assert len(mark.lines(f"disconnect sid={sid}")) == 1, mark.new()  # the connection log's line
    assert len(mark.lines(sid)) == 3, mark.new()  # not one line per refused message
    assert await bystander.call("broadcast", "unaffected") == OK


async def test_flood_disconnects_the_client_and_spares_the_others(rate_server, clients):
    bystander = await clients.python(rate_server.url)
    flooder = await clients.js(rate_server.url, transports=["websocket"])
    mark = LogMark(rate_server)
    for n in range(60):
        await flooder.emit("broadcast", n)
    [event] = await flooder.expect("disconnect")
    assert event["reason"] in ("io server disconnect", "transport close"), event
    assert mark.lines("disconnecting", "20 messages refused in a row")
    assert await bystander.call("broadcast", "unaffected") == OK
    while await bystander.expect("receiveAll") != ["unaffected"]:
        pass
    relayed = [args[0] for args in bystander.inbox.all("receiveAll")][:-1]
    assert relayed == list(range(5))  # the burst, nothing refused
    assert "Traceback" not in mark.new()


async def test_raw_flood_over_websocket_is_cut_off(rate_server, clients):
    bystander = await clients.python(rate_server.url)
    raw = await RawWebSocket.open(rate_server.url)
    for n in range(200):
        try:
            await raw.send(f'42["broadcast",{n}]')
        except Exception:  # closed under us: that is the point
            break
    assert await raw.closed_within(3) < 3
    assert await bystander.call("broadcast", "unaffected") == OK


# Connections per address ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def capped_server(module_server):
    return module_server({"server": {"max_connections_per_address": 2, "connect_timeout": 1}})


async def test_third_connection_from_one_address_is_refused(capped_server, clients):
    mark = LogMark(capped_server)
    first = await clients.python(capped_server.url)
    second = await clients.js(capped_server.url, transports=["polling"])
    for transport in ("websocket", "polling"):
        third = await clients.js(capped_server.url, transports=[transport], expect_ok=False)
        [error] = await third.expect("connect_error")
        assert error["message"] == "too many connections from your address (at most 2)", error
        await third.close()
    assert len(mark.lines("refused connection from 127.0.0.1", "already 2 connections")) == 2
    # Refused handshakes leave no session behind (connect_timeout 1 s closes what the client keeps).
    await wait_until(lambda: health(capped_server.url)["sessions"] == 2, timeout=4, what="refused sessions gone")
    assert health(capped_server.url)["clients"] == 2
    await first.close()
    await wait_until(lambda: health(capped_server.url)["clients"] == 1, timeout=3)
    newcomer = await clients.js(capped_server.url)
    assert await newcomer.call("broadcast", "room for me") == OK
    assert await second.call("broadcast", "still here") == OK
    await second.close()
    await newcomer.close()
    await wait_until(lambda: health(capped_server.url)["clients"] == 0, timeout=3)


async def test_cap_is_restored_after_many_connects_and_disconnects(capped_server, clients):
    for _ in range(6):
        pair = [await clients.python(capped_server.url) for _ in range(2)]
        for client in pair:
            await client.close()
        await wait_until(lambda: health(capped_server.url)["clients"] == 0, timeout=3)
    pair = [await clients.python(capped_server.url) for _ in range(2)]
    third = await clients.js(capped_server.url, expect_ok=False)
    [error] = await third.expect("connect_error")
    assert error["message"].startswith("too many connections")
    for client in pair:
        await client.close()


# Origins ----------------------------------------------------------------------------------------------------

EVIL = "http://evil.example"


@pytest.fixture(scope="module")
def strict_origin_server(module_server):
    port = free_port()
    return module_server({"server": {"cors_allowed_origins": [], "public_url": f"http://127.0.0.1:{port}"}},
                         port=port)


def lookalikes(server) -> list[str]:
    own = server.url  # http://127.0.0.1:<port>
    return [EVIL, "null", own.replace("127.0.0.1", "localhost"), own + ".evil.example",
            f"http://127.0.0.1:{server.port}@evil.example", "https://" + own[len("http://"):], own + "0"]


def test_foreign_origins_are_refused_on_polling(strict_origin_server):
    mark = LogMark(strict_origin_server)
    for origin in lookalikes(strict_origin_server):
        assert http_status(eio_url(strict_origin_server.url), headers={"Origin": origin}) == 400, origin
        assert mark.lines(f"refused connection from origin {origin!r}"), origin
    assert health(strict_origin_server.url)["sessions"] == 0


@pytest.mark.parametrize("transport", ["polling", "websocket"])
async def test_a_refused_origin_is_logged_once(strict_origin_server, transport):
    mark = LogMark(strict_origin_server)
    if transport == "polling":
        assert http_status(eio_url(strict_origin_server.url), headers={"Origin": EVIL}) == 400
    else:
        assert await websocket_refused(strict_origin_server.url, headers={"Origin": EVIL}) == 400
    await asyncio.sleep(0.2)
    assert len(mark.lines(f"refused connection from origin '{EVIL}'")) == 1, mark.new()


async def test_foreign_origins_are_refused_on_websocket(strict_origin_server):
    for origin in lookalikes(strict_origin_server):
        assert await websocket_refused(strict_origin_server.url, headers={"Origin": origin}) == 400, origin


async def test_own_origin_and_public_url_are_accepted(strict_origin_server, clients):
    origin = f"http://127.0.0.1:{strict_origin_server.port}"  # own origin and public_url alike
    assert http_status(eio_url(strict_origin_server.url), headers={"Origin": origin}) == 200
    raw = await RawWebSocket.open(strict_origin_server.url, headers={"Origin": origin})
    assert await raw.call("broadcast", "same origin") == [OK]
    await raw.close()
    browserlike = await clients.python(strict_origin_server.url, transports=["polling"], headers={"Origin": origin})
    assert await browserlike.call("broadcast", "over polling") == OK
    await close_fast(browserlike)


def test_requests_without_origin_are_accepted(strict_origin_server):
    assert http_status(eio_url(strict_origin_server.url)) == 200  # non-browser clients send none


async def test_default_config_accepts_null_origin(server):
    assert http_status(eio_url(server.url), headers={"Origin": "null"}) == 200
    raw = await RawWebSocket.open(server.url, headers={"Origin": "null"})
    assert await raw.call("broadcast", "from a file:// page") == [OK]
    await raw.close()
    assert http_status(eio_url(server.url), headers={"Origin": EVIL}) == 400


# token_auth -------------------------------------------------------------------------------------------------

SECRET = "s3cret"


@pytest.fixture(scope="module")
def token_server(module_server):
    return module_server({"server": {"max_connections_per_address": 3},
                          "plugins": {"token_auth": {"enabled": True, "tokens": [SECRET]}}})


@pytest.mark.parametrize("opts", [
    {}, {"auth": {}}, {"auth": {"token": "wrong"}}, {"auth": {"token": SECRET[:-1]}},
    {"auth": {"token": SECRET + " "}},
    {"auth": {"token": SECRET.upper()}}, {"auth": {"token": 123}}, {"auth": {"token": [SECRET]}},
    {"auth": {"token": None}}, {"auth": {"Token": SECRET}}, {"auth": {"token": {"token": SECRET}}},
], ids=["no-auth", "empty-auth", "wrong", "prefix", "trailing-space", "upper-case", "number", "list", "null",
        "key-case", "nested"])
async def test_connection_without_the_token_is_refused(token_server, clients, opts):
    mark = LogMark(token_server)
    client = await clients.js(token_server.url, expect_ok=False, extra_opts=opts)
    [error] = await client.expect("connect_error")
    assert error["message"] == "authentication failed: missing or invalid token"
    await client.close()
    assert await mark.wait_for("refused connection from 127.0.0.1", "token")
    assert "Traceback" not in mark.new()


async def test_connection_with_the_token_chats(token_server, clients):
    js = await clients.js(token_server.url, extra_opts={"auth": {"token": SECRET}})
    py = await clients.python(token_server.url, auth={"token": SECRET}, transports=["polling"])
    assert await js.call("broadcast", "authenticated") == OK
    assert await py.expect("receiveAll") == ["authenticated"]
    assert await py.call("entry", "vault", "py") == OK
    await close_fast(py)


async def test_refused_tokens_do_not_use_up_the_address_quota(token_server, clients):
    for _ in range(5):
        bad = await clients.js(token_server.url, expect_ok=False, extra_opts={"auth": {"token": "nope"}})
        await bad.expect("connect_error")
        await bad.close()
    good = [await clients.python(token_server.url, auth={"token": SECRET}) for _ in range(3)]
    assert await good[-1].call("broadcast", "quota intact") == OK


async def test_token_is_not_accepted_from_the_query_string_or_headers(token_server, clients):
    with pytest.raises(socketio.exceptions.ConnectionError):
        await clients.python(token_server.url, headers={"Authorization": f"Bearer {SECRET}"})
    client = await clients.js(token_server.url + f"?token={SECRET}", expect_ok=False)
    [error] = await client.expect("connect_error")
    assert error["message"].startswith("authentication failed")


async def test_the_token_never_reaches_the_log(token_server, clients):
    near_miss = await clients.js(token_server.url, expect_ok=False, extra_opts={"auth": {"token": SECRET + "x"}})
    await near_miss.expect("connect_error")
    member = await clients.python(token_server.url, auth={"token": SECRET})
    assert await member.call("broadcast", "logged in") == OK
    await member.close()
    # The whole log of this module's server: every refusal and success of the tests above, too.
    logs = token_server.logs()
    assert "refused connection from 127.0.0.1: invalid token" in logs
    assert "refused connection from 127.0.0.1: no token" in logs
    assert SECRET not in logs and SECRET.upper() not in logs and SECRET[:-1] not in logs


# group_chat names and rooms ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def strict_names_server(module_server):
    return module_server({"plugins": {"group_chat": {"allowed_name_characters": "[A-Za-z0-9]",
                                                     "max_rooms_per_connection": 2}}})


@pytest.mark.parametrize("room, nick, bad", [
    ("bad name!", "nick", " "), ("room", "bad name!", " "), ("café", "nick", "é"), ("room", "a\u200bb", "\u200b"),
    ("room", "tab\t", "\t"), ("ro-om", "nick", "-"), ("room", "ñ", "ñ"), ("１２", "nick", "１"),
], ids=["space-in-room", "space-in-nick", "accent", "zero-width", "tab", "dash", "n-tilde", "fullwidth-digit"])
async def test_names_with_characters_outside_the_allowed_set_are_refused(strict_names_server, clients,
                                                                         room, nick, bad):
    client = await clients.python(strict_names_server.url)
    ack = await client.call("entry", room, nick)
    field = "roomId" if bad in room else "nickName"
    assert ack == {"ok": False, "error": f"entry: {field} contains a character that is not allowed ({bad!r})"}
    assert await client.call("groupmsg", room, "hi") != OK  # not entered
    await client.assert_none("entryok", within=0.1)


async def test_names_within_the_allowed_set_enter(strict_names_server, clients):
    client = await clients.python(strict_names_server.url)
    assert await client.call("entry", "Room42", "Nick7") == OK
    assert await client.expect("entryok") == ["You entered room Room42 as Nick7"]


async def test_max_rooms_per_connection(strict_names_server, clients):
    client = await clients.python(strict_names_server.url)
    other = await clients.python(strict_names_server.url)
    assert await client.call("entry", "one", "me") == OK
    assert await client.call("entry", "two", "me") == OK
    assert await client.call("entry", "three", "me") == {
        "ok": False, "error": "entry: you are already in 2 rooms, the most allowed"}
    assert await client.call("entry", "one", "renamed") == OK  # re-entry is not a new room
    assert await client.call("groupmsg", "three", "x") != OK
    assert await other.call("entry", "three", "them") == OK  # the limit is per connection
    assert await other.call("entry", "two", "them") == OK
