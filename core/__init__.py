"""The chat host: config, the Sanic <-> Socket.IO binding, plugins, pages and backplanes."""
