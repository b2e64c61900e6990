"""The one exception type for mistakes a user can fix: bad input, bad config, missing file."""


class UserError(Exception):
    """A problem the user caused and can fix; its message says what and where.

    The CLI prints the message (no traceback) and exits 2; the app shows it as a notification.
    """

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message
