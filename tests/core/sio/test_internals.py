"""What core.sio.internals relies on in python-engineio and python-socketio: fails loudly on an upgrade.

core.sio.internals overrides private methods and reads private attributes; an upgrade that
renames or re-signs one of them would break the chat silently (an override nobody calls).
These checks name each one, so the pins in requirements.txt are only moved on purpose.
"""

from __future__ import annotations

import importlib.metadata
import inspect
import re

import engineio
import pytest
import socketio
from engineio import async_socket, payload
from socketio import async_manager

from core.sio import internals
from tests.support.server import ROOT


def params(func) -> list[str]:
    return list(inspect.signature(func).parameters)


@pytest.mark.parametrize("dist, version", [("python-engineio", internals.ENGINEIO_VERSION),
                                           ("python-socketio", internals.SOCKETIO_VERSION)])
def test_versions_are_the_pinned_ones(dist, version):
    assert importlib.metadata.version(dist) == version
    pins = (ROOT / "requirements.txt").read_text()
    assert re.search(rf"^{dist}=={re.escape(version)}$", pins, re.M), f"{dist} is not pinned to {version}"


ENGINEIO_METHODS = {
    "_handle_connect": ["self", "environ", "transport", "jsonp_index"],
    "_trigger_event": ["self", "event", "args", "kwargs"],
    "_make_response": ["self", "response_dict", "environ"],
    "_upgrades": ["self", "sid", "transport"],
    "_ok": ["self", "packets", "headers", "jsonp_index"],
    "_bad_request": ["self", "message"],
    "_unauthorized": ["self", "message"],
    "_service_task": ["self"],
    "generate_id": ["self"],
    "start_background_task": ["self", "target", "args", "kwargs"],
}


@pytest.mark.parametrize("name, expected", ENGINEIO_METHODS.items())
def test_engineio_server_methods(name, expected):
    assert params(getattr(engineio.AsyncServer, name)) == expected


def test_engineio_server_attributes():
    eio = engineio.AsyncServer(async_mode="asgi")
    for name in ("sockets", "start_service_task", "service_task_handle", "ping_interval",
                 "ping_timeout", "max_http_buffer_size", "transports", "_async", "handlers"):
        assert hasattr(eio, name), name
    assert isinstance(eio.sockets, dict)
    for reason in ("SERVER_DISCONNECT", "CLIENT_DISCONNECT", "PING_TIMEOUT", "TRANSPORT_CLOSE",
                   "TRANSPORT_ERROR"):
        assert hasattr(eio.reason, reason), reason
    assert isinstance(payload.Payload.max_decode_packets, int)
    # The handshake the adapter replaces still creates engineio's own socket class.
    assert "async_socket.AsyncSocket(self, sid)" in inspect.getsource(engineio.AsyncServer._handle_connect)


ENGINEIO_SOCKET_METHODS = {
    "schedule_ping": ["self"],
    "close": ["self", "wait", "abort", "reason"],
    "send": ["self", "pkt"],
    "poll": ["self"],
    "receive": ["self", "pkt"],
    "handle_get_request": ["self", "environ"],
    "check_ping_timeout": ["self"],
}


@pytest.mark.parametrize("name, expected", ENGINEIO_SOCKET_METHODS.items())
def test_engineio_socket_methods(name, expected):
    assert params(getattr(async_socket.AsyncSocket, name)) == expected


def test_engineio_socket_attributes():
    eio = engineio.AsyncServer(async_mode="asgi")
    sock = async_socket.AsyncSocket(eio, "sid")
    for name in ("server", "sid", "queue", "last_ping", "connected", "upgrading", "upgraded",
                 "closing", "closed", "session"):
        assert hasattr(sock, name), name
    # ChatSocket's ping timer relies on schedule_ping being the only place a ping cycle starts.
    assert "_send_ping" in inspect.getsource(async_socket.AsyncSocket.schedule_ping)
    assert "schedule_ping" in inspect.getsource(async_socket.AsyncSocket.receive)


SOCKETIO_METHODS = {
    "_handle_eio_connect": ["self", "eio_sid", "environ"],
    "_handle_eio_disconnect": ["self", "eio_sid", "reason"],
    "_handle_eio_message": ["self", "eio_sid", "data"],
    "_handle_event": ["self", "eio_sid", "namespace", "id", "data"],
    "_trigger_event": ["self", "event", "namespace", "args"],
    "_handle_connect": ["self", "eio_sid", "namespace", "data"],
    "_send_packet": ["self", "eio_sid", "pkt"],
    "_engineio_server_class": ["self"],
}


@pytest.mark.parametrize("name, expected", SOCKETIO_METHODS.items())
def test_socketio_server_methods(name, expected):
    assert params(getattr(socketio.AsyncServer, name)) == expected


def test_socketio_server_attributes():
    sio = socketio.AsyncServer(async_mode="asgi")
    for name in ("environ", "_binary_packet", "handlers", "namespace_handlers", "namespaces",
                 "manager", "manager_initialized", "packet_class", "eio"):
        assert hasattr(sio, name), name
    # _handle_eio_message dispatches on these (the adapter's fast path calls _handle_event).
    source = inspect.getsource(socketio.AsyncServer._handle_eio_message)
    assert "_handle_connect" in source and "_handle_event" in source


MANAGER_METHODS = {
    "pre_connect": ["self", "eio_sid", "namespace"],
    "connect": ["self", "sid", "namespace"],
    "disconnect": ["self", "sid", "namespace", "kwargs"],
    "sid_from_eio_sid": ["self", "eio_sid", "namespace"],
    "eio_sid_from_sid": ["self", "sid", "namespace"],
    "get_namespaces": ["self"],
    "get_participants": ["self", "namespace", "room"],
}


@pytest.mark.parametrize("name, expected", MANAGER_METHODS.items())
def test_manager_methods(name, expected):
    assert params(getattr(async_manager.AsyncManager, name)) == expected


def test_manager_rooms_layout():
    manager = async_manager.AsyncManager()
    assert manager.rooms == {}  # rooms[namespace][room][sid] = eio_sid; None is "every client"


def test_no_other_core_module_reaches_into_the_libraries():
    """Private names of engineio/socketio objects appear in core.sio.internals only."""
    private = re.compile(r"\b(eio|sock|socket|manager|sio)\.(_[a-z]\w*|sockets|queue|upgrading|upgraded|connected|rooms|manager_initialized)\b")
    allowed = {ROOT / "core/sio/internals.py"}
    offenders = []
    for path in sorted((ROOT / "core").rglob("*.py")):
        if path in allowed:
            continue
        for number, line in enumerate(path.read_text().splitlines(), 1):
            if private.search(line.split("#")[0]):
                offenders.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()}")
    assert not offenders, "\n".join(offenders)
