"""The bearer token: from an argument or the environment, and never shown."""

import os
from collections.abc import Mapping

from api.client.errors import ClientError

# The variable both clients read (this one and `python -m api jobs`); never an argument of a command,
# which any user could read in the process list.
TOKEN_ENV = "API_TOKEN"  # noqa: S105 - the variable's name, not a token


class Token:
    """A bearer token that never appears in a repr, a str, a log line or a traceback's locals' reprs."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def header(self) -> str:
        """Return the Authorization header's value."""
        return f"Bearer {self._value}"

    def __repr__(self) -> str:
        return "Token(<hidden>)"

    __str__ = __repr__


def token_from(token: str | None, environ: Mapping[str, str] = os.environ) -> Token:
    """Return ``token``, else $API_TOKEN's; raise ClientError if neither holds one."""
    value = (token if token is not None else environ.get(TOKEN_ENV, "")).strip()
    if not value:
        raise ClientError(
            f"no bearer token given and {TOKEN_ENV} is not set (make token NAME=you prints one)"
        )
    if any(ord(char) < 0x21 or ord(char) > 0x7E for char in value):
        # It goes into a header: a newline would be a header injection, anything else a wrong token.
        raise ClientError("the bearer token holds a character no token has (space, control or non-ASCII)")
    return Token(value)
