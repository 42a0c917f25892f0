"""Typed views of config sections."""

from __future__ import annotations

from typing import Self


class FromSection:
    """Mixin for a frozen dataclass that mirrors a config section: extra keys (such as a section's
    variant list) are ignored, missing ones raise KeyError naming the key."""

    @classmethod
    def from_config(cls, section: dict) -> Self:
        return cls(**{k: section[k] for k in cls.__dataclass_fields__})
