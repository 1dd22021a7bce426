"""The public plugin API: everything a plugin imports comes from here (`from core.api import ...`)."""

from core.api.context import ConnectionRefused, PluginConfig, PluginContext
from core.api.events import MESSAGE_SENT, ROOM_ENTERED, ROOM_LEFT
from core.api.params import ClientError, Param, any_json, json_object, text

__all__ = [
    "ClientError", "ConnectionRefused", "MESSAGE_SENT", "Param", "PluginConfig", "PluginContext",
    "ROOM_ENTERED", "ROOM_LEFT", "any_json", "json_object", "text",
]
