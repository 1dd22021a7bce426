"""Backplanes: how Socket.IO rooms and broadcasts are shared between server processes.

A backplane is one module here exposing `Config` (its typed options, optional),
`create(config, logger) -> socketio.AsyncManager`, and `SINGLE_PROCESS_ONLY` when it
cannot serve several processes. `backplane.kind` in config.yaml names the module.
"""
