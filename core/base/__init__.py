"""The typed-settings base every layer shares (the lowest layer)."""
