"""The public plugin API: everything a plugin imports comes from here (`from core.api import ...`).

PluginContext     the `ctx` a plugin's setup(ctx) gets: events, rooms, emits, hooks, pages, routes
PluginConfig      base class of a plugin's typed `Config` (unknown keys refused)
Field             pydantic's Field, for Config options with bounds (`Field(10, ge=1)`)
field_validator   pydantic's field_validator, for Config checks of one option
Param             one positional argument of an event and the check it must pass
Rest              the remaining arguments of an event (0 to max_count), each passing a check
ClientError       raise it in a handler: the client's ack gets {"ok": false, "error": reason}
ConnectionRefused raise it in a connect hook: the client gets connect_error with the message
Ack               return Ack(v1, v2, ...) from a handler: the ack carries exactly these values
Outgoing          a message about to go out, as before_send hooks see (and rewrite) it
Join              what ctx.on_join hooks get: a socket joined a room (or connected), its live messages held
text              check: a non-empty string of bounded length, optionally of allowed characters
any_json          check: any JSON value within a size in bytes
json_object       check: a JSON object within a size in bytes
binary            check: bytes (a binary attachment) within a size
Event             base of the typed internal events (frozen keyword-only dataclasses with a name)
MessageSent       internal event: a chat message went out
RoomEvent         base of RoomEntered and RoomLeft: one subscription gets both, in order
RoomEntered       internal event: a connection entered a room
RoomLeft          internal event: a connection left a room
ProcessDown       internal event: another server process stopped answering
as_dict           an internal event's fields as a dict
SocketInfo        one socket of a room anywhere in the cluster (ctx.cluster.room_sockets): sid, process, session
StoreUnavailable  raised by ctx.store when Redis cannot be reached (nothing was changed)
WrongType         raised by ctx.store when a key is used as another kind (a list as a hash)
Request           the request a route handler gets (Sanic's)
json_response     a JSON response with a status code, from a route handler
text_response     a plain-text response with a status code, from a route handler

Every name is documented in docs/plugins.md (tests/core/api/test_docs.py checks both lists).
"""

from pydantic import Field, field_validator
from sanic import Request

from core.api.cluster import SocketInfo
from core.api.context import ConnectionRefused, PluginConfig, PluginContext
from core.api.joins import Join
from core.api.events import Event, MessageSent, ProcessDown, RoomEntered, RoomEvent, RoomLeft, as_dict
from core.api.params import Ack, ClientError, Param, Rest, any_json, binary, json_object, text
from core.api.rooms import Outgoing
from core.api.routes import json_response, text_response
from core.backplane.base import StoreUnavailable, WrongType

__all__ = [
    # the plugin's entry point and config
    "PluginContext", "PluginConfig", "Field", "field_validator",
    # handlers: arguments, answers, refusals
    "Param", "Rest", "ClientError", "ConnectionRefused", "Ack", "Outgoing", "Join",
    "text", "any_json", "json_object", "binary",
    # typed internal events
    "Event", "MessageSent", "RoomEntered", "RoomLeft", "RoomEvent", "ProcessDown", "as_dict",
    # the cluster: ctx.cluster answers, ctx.store errors
    "SocketInfo", "StoreUnavailable", "WrongType",
    # routes
    "Request", "json_response", "text_response",
]
