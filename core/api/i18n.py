"""Message catalogues (`messages/<lang>.json` next to templates) and the browser's language."""

from __future__ import annotations

import json
from pathlib import Path

LANGUAGES = ("en", "ko")
FALLBACK = "en"


def negotiate(accept_language: str | None, configured: str = "auto") -> str:
    """The language to use: the configured one, else the best of Accept-Language we have."""
    if configured != "auto":
        return configured
    ranked: list[tuple[float, int, str]] = []
    for position, item in enumerate((accept_language or "").split(",")):
        tag, _, params = item.strip().partition(";")
        quality = 1.0
        for param in params.split(";"):
            name, _, value = param.strip().partition("=")
            if name == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        primary = tag.strip().lower().split("-")[0]
        if primary in LANGUAGES and quality > 0:
            ranked.append((-quality, position, primary))
    return min(ranked)[2] if ranked else FALLBACK


class Catalogue:
    """Messages by language; later folders override earlier ones, English fills gaps."""

    def __init__(self, *folders: Path):
        self._messages: dict[str, dict[str, str]] = {lang: {} for lang in LANGUAGES}
        for folder in folders:
            for lang in LANGUAGES:
                path = Path(folder) / "messages" / f"{lang}.json"
                if path.is_file():
                    self._messages[lang].update(json.loads(path.read_text(encoding="utf-8")))
        english = self._messages[FALLBACK]
        for lang in LANGUAGES:
            self._messages[lang] = {**english, **self._messages[lang]}

    def messages(self, lang: str) -> dict[str, str]:
        """Every message of lang (English where lang has none)."""
        return self._messages.get(lang, self._messages[FALLBACK])

    def all(self) -> dict[str, dict[str, str]]:
        """Every language's messages (standalone pages choose by navigator.language)."""
        return self._messages

    def text(self, lang: str, key: str, **values: str) -> str:
        """One message with its {placeholders} filled; the key itself when it is missing."""
        template = self.messages(lang).get(key, key)
        return template.format(**values) if values else template
