"""Test helpers: real server processes, real clients."""
