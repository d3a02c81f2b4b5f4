"""The one exception type for bad user input.

Every check on user-facing arguments raises :class:`InvalidArgument` naming the
argument, before any compute starts. Command-line entry points catch this type (and
only this type) and print it without a traceback.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TypeVar

Record = TypeVar("Record")


class InvalidArgument(ValueError):
    """A user-supplied argument is out of range or inconsistent.

    Args:
      argument: the name of the offending argument, as the user spelled it (``"p"``,
        ``"fraction"``, ``"reflections"``, ...).
      message: what is wrong with it.
    """

    def __init__(self, argument: str, message: str):
        self.argument = argument
        self.message = message
        super().__init__(f"{argument}: {message}")

    def renamed(self, argument: str, context: str = "") -> InvalidArgument:
        """The same error naming ``argument`` instead: the caller's flag, when a library
        check names its own parameter (``fraction`` for ``--fractions``)."""
        return InvalidArgument(argument, f"{self.message}{context}")


def lookup(registry: Mapping[str, Record], name, argument: str, what: str) -> Record:
    """The record ``registry[name]`` of a name the user gave (a kernel, a move, ...).

    Raises:
      InvalidArgument: naming ``argument`` when ``name`` is not a key, with the choices.
    """
    if not isinstance(name, str) or name not in registry:
        raise InvalidArgument(argument, f"unknown {what} {name!r}; choose from {tuple(registry)}")
    return registry[name]
