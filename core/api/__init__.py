"""The public plugin API: everything a plugin imports comes from here (`from core.api import ...`).

Every name below is documented in docs/plugins.md (tests/core/api/test_docs.py checks it).
"""

from pydantic import Field, field_validator
from sanic import Request

from core.api.context import ConnectionRefused, PluginConfig, PluginContext
from core.api.events import Event, MessageSent, ProcessDown, RoomEntered, RoomEvent, RoomLeft, as_dict
from core.api.params import Ack, ClientError, Param, Rest, any_json, binary, json_object, text
from core.api.rooms import Outgoing
from core.api.routes import json_response, text_response

__all__ = [
    # the plugin's entry point and config
    "PluginContext", "PluginConfig", "Field", "field_validator",
    # handlers: arguments, answers, refusals
    "Param", "Rest", "ClientError", "ConnectionRefused", "Ack", "Outgoing",
    "text", "any_json", "json_object", "binary",
    # typed internal events
    "Event", "MessageSent", "RoomEntered", "RoomLeft", "RoomEvent", "ProcessDown", "as_dict",
    # routes
    "Request", "json_response", "text_response",
]
