"""The request object fastrt-h2 hands to `app(request)`.

Built by the server in the worker's interpreter from plain data (no state is
shared between interpreters): method, path and query are str, headers an
ordered list of (name, value) str pairs (names lower-case; repeated cookie
fields joined with "; "), body bytes.
"""


class Headers(list):
    """An ordered list of (name, value) pairs with a case-insensitive get()."""

    __slots__ = ()

    def get(self, name, default=None):
        name = name.lower()
        for key, value in self:
            if key == name:
                return value
        return default


class Request:
    __slots__ = ("method", "path", "query", "headers", "body")

    def __init__(self, method, path, query, headers, body):
        self.method = method
        self.path = path
        self.query = query
        self.headers = Headers(headers)
        self.body = body

    def __repr__(self):
        return f"<Request {self.method} {self.path}{'?' + self.query if self.query else ''}>"
