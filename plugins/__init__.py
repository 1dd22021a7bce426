"""Plugins: one folder each, loaded by core when config.yaml enables them."""
