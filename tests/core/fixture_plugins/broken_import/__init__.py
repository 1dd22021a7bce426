"""Test plugin that cannot be imported (a missing dependency)."""

import chat_test_module_that_does_not_exist  # noqa: F401


def setup(ctx):
    pass
