"""The host: command line, configuration, plugin discovery and the app factory."""
