"""Test plugin without a setup(ctx) function."""

name = "no_setup"
