"""The one exception type for bad user input.

Every check on user-facing arguments raises :class:`InvalidArgument` naming the
argument, before any compute starts. Command-line entry points catch this type (and
only this type) and print it without a traceback.
"""


class InvalidArgument(ValueError):
    """A user-supplied argument is out of range or inconsistent.

    Args:
      argument: the name of the offending argument, as the user spelled it (``"p"``,
        ``"fraction"``, ``"reflections"``, ...).
      message: what is wrong with it.
    """

    def __init__(self, argument: str, message: str):
        self.argument = argument
        super().__init__(f"{argument}: {message}")
