"""Multilingual text: a label, hint or message in several languages (zh first)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass

DEFAULT_LANGUAGE = "zh"


@dataclass(frozen=True, slots=True)
class Text:
    """Translations as sorted (language, text) pairs, so that the value is hashable and comparable."""

    items: tuple[tuple[str, str], ...] = ()

    @classmethod
    def of(cls, value: Mapping[str, str] | None = None, **langs: str) -> Text:
        merged = {**(value or {}), **langs}
        return cls(tuple(sorted((k, v) for k, v in merged.items() if v)))

    def get(self, lang: str = DEFAULT_LANGUAGE, fallback: bool = True) -> str:
        for k, v in self.items:
            if k == lang:
                return v
        if fallback:
            for pref in (DEFAULT_LANGUAGE, "en"):
                for k, v in self.items:
                    if k == pref:
                        return v
            if self.items:
                return self.items[0][1]
        return ""

    @property
    def zh(self) -> str:
        return self.get("zh")

    @property
    def en(self) -> str:
        return self.get("en")

    def languages(self) -> Iterator[str]:
        return (k for k, _ in self.items)

    def as_dict(self) -> dict[str, str]:
        return dict(self.items)

    def __bool__(self) -> bool:
        return bool(self.items)
