"""The blocked-word list: find whole words (any case) in every string of a message, refuse or mask them."""

from __future__ import annotations

import re
from typing import Any


def word_pattern(words: list[str]) -> re.Pattern | None:
    """One pattern matching any listed word or phrase as a whole word, ignoring case; None if none."""
    cleaned = sorted({w.strip() for w in words if w.strip()}, key=len, reverse=True)
    if not cleaned:
        return None
    # Whole words: no letter or digit right before or after (so "class" is not caught by "ass").
    return re.compile(r"(?<!\w)(?:" + "|".join(re.escape(w) for w in cleaned) + r")(?!\w)", re.IGNORECASE)


class WordFilter:
    """Looks through the strings of a message's arguments (object values and array items too)."""

    def __init__(self, words: list[str], mask_character: str):
        self.pattern = word_pattern(words)
        self.mask_character = mask_character

    def _mask(self, match: re.Match) -> str:
        return self.mask_character * len(match.group(0))

    def found(self, args: Any) -> bool:
        """Whether any string in args holds a blocked word."""
        if self.pattern is None:
            return False
        return any(self.pattern.search(s) for s in strings(args))

    def masked(self, args: Any) -> Any:
        """args with every blocked word replaced by mask characters (a copy; args is not changed)."""
        if self.pattern is None:
            return args
        return rebuild(args, lambda s: self.pattern.sub(self._mask, s))


def strings(value: Any):
    """Every string inside a JSON value, without recursion (a deeply nested value cannot overflow)."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            yield item
        elif isinstance(item, dict):
            stack.extend(item.values())
        elif isinstance(item, (list, tuple)):
            stack.extend(item)


def rebuild(value: Any, change) -> Any:
    """A copy of a JSON value with change(s) applied to every string (containers keep their type)."""
    if isinstance(value, str):
        return change(value)
    if not isinstance(value, (dict, list, tuple)):
        return value
    # Iterative: build containers bottom-up from an explicit stack.
    root: list = [None]
    stack = [(value, root, 0)]
    while stack:
        item, parent, key = stack.pop()
        if isinstance(item, str):
            parent[key] = change(item)
        elif isinstance(item, dict):
            copy = dict(item)
            parent[key] = copy
            stack.extend((v, copy, k) for k, v in item.items())
        elif isinstance(item, (list, tuple)):
            copy = list(item)
            parent[key] = copy
            stack.extend((v, copy, i) for i, v in enumerate(item))
        else:
            parent[key] = item
    result = root[0]
    return tuple(result) if isinstance(value, tuple) else result
