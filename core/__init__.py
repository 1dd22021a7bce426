"""The chat server core, in layers; plugins import `core.api` and nothing else.

Folders, top to bottom; a folder imports only from folders below it:

- host/       command line, configuration, plugin discovery, the app factory
- api/        the public plugin API (`core.api`): context, params, internal events, pages
- policies/   what every connection passes: limits, origins, health
- backplane/  how rooms and broadcasts reach other processes (memory, Redis)
- sio/        python-socketio and python-engineio adapted to Sanic: server subclasses, driver,
              session loop, fan-out
- transport/  bytes on a connection: the websocket connection, the per-session queue
- protocol/   RFC 6455 without I/O
- base/       the typed-settings base every layer shares
"""
