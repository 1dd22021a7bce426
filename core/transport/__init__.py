"""Bytes on connections: the websocket connection on Sanic's protocol and the per-session queue."""
