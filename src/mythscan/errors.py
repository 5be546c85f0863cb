"""Exception classes: each says what was expected, what was found and how to fix it."""

from __future__ import annotations


class MythscanError(Exception):
    """Base class of every error mythscan raises on purpose."""

    def __init__(self, message: str, *, hint: str | None = None):
        self.message = message
        self.hint = hint
        super().__init__(f"{message} ({hint})" if hint else message)


class InputError(MythscanError):
    """An input (file, URL, stdin, table) could not be read or holds no usable text."""


class LabelError(MythscanError):
    """Labelled data is malformed or inconsistent."""


class ModelError(MythscanError):
    """A model directory is missing, incomplete or incompatible."""


class ConfigError(MythscanError):
    """A training or evaluation configuration is invalid."""
