"""The history's own errors, so that its callers need not know which database library it uses."""


class HistoryReadError(Exception):
    """The history database did not answer a read (down, unreachable, or its file unusable)."""
