"""HTTP/1.x rules the worker (api/worker.py) adds to Gunicorn's: what becomes of a connection whose
request body is not read to its end."""

from gunicorn.http.errors import NoMoreData, ParseException


class ClosingBody:
    """A request body (wsgi.input) whose connection closes after the answer when it is not read to its end.

    A chunked body with broken framing cannot be read on, so where the next request
    starts is unknown (Gunicorn closes, but its answer said keep-alive); one the app
    refuses as too large is not worth reading (``abandon``). Either way the request is
    marked ``must_close``: the answer says ``Connection: close`` and the connection ends.
    """

    def __init__(self, req):
        self._req = req
        self._body = req.body

    @property
    def failed(self) -> bool:
        """True once a read failed (Gunicorn's parser then closes rather than read the next request)."""
        return self._body.failed

    def read(self, size=None) -> bytes:
        """Read up to ``size`` bytes (all, if None)."""
        return self._guarded(self._body.read, size)

    def readline(self, size=None) -> bytes:
        """Read one line, of at most ``size`` bytes."""
        return self._guarded(self._body.readline, size)

    def readlines(self, size=None) -> list[bytes]:
        """Read every line."""
        return self._guarded(self._body.readlines, size)

    def __iter__(self):
        return self

    def __next__(self) -> bytes:
        line = self.readline()
        if not line:
            raise StopIteration
        return line

    def abandon(self) -> None:
        """The app will not read the rest of the body: close the connection after the answer."""
        self._req.must_close = True

    def _guarded(self, read, size):
        """Call ``read``; if the body cannot be read on, abandon it and re-raise."""
        try:
            return read(size)
        except (ParseException, NoMoreData):
            self.abandon()
            raise
