# A WSGI app for tests/http2_python_wsgi_test.cpp: one route per rule of
# PEP 3333 that wsgi.hpp implements. CLOSED counts close() calls (per
# interpreter); /closed reports it. The /input-* routes read wsgi.input as
# the body streams in (tests/http2/wsgi_input_client.py); INPUT_ERRORS counts
# the reads that failed (a client reset), /input-errors reports it.
# hashlib is imported only by the route that needs it: on CPython 3.12.1 an
# own-GIL subinterpreter that imported hashlib leaves a foreign block in the
# main interpreter's tuple free list, and Py_FinalizeEx aborts ("free():
# invalid pointer"; the py312 preset's http2_python_wsgi_test).
import sys

CLOSED = 0
INPUT_ERRORS = 0
SEEN_CONSTANTS = []  # the last two /constants environs' (wsgi.version, SERVER_PROTOCOL)


class Closing:
    """An iterable with close(), as PEP 3333 servers must call."""

    def __init__(self, pieces, fail=None, forever=False):
        self.pieces, self.fail, self.forever = pieces, fail, forever

    def __iter__(self):
        yield from self.pieces
        if self.fail:
            raise ValueError(self.fail)
        while self.forever:
            yield b"z"

    def close(self):
        global CLOSED
        CLOSED += 1


def check_environ(environ):
    e = environ
    expected = {
        "REQUEST_METHOD": "PUT", "SCRIPT_NAME": "", "PATH_INFO": "/environ/caf\xc3\xa9 x",
        "QUERY_STRING": "a=1&b=%20", "CONTENT_TYPE": "text/plain", "CONTENT_LENGTH": "4",
        "SERVER_NAME": "127.0.0.1", "SERVER_PORT": "8443", "SERVER_PROTOCOL": "HTTP/2",
        "REMOTE_ADDR": "10.1.2.3", "REMOTE_PORT": "50123", "HTTP_HOST": "example.test",
        "HTTP_X_MULTI": "1,2", "HTTP_COOKIE": "a=1; b=2", "wsgi.url_scheme": "http",
    }
    for key, value in expected.items():
        assert e.get(key) == value, (key, e.get(key), value)
    assert "HTTP_CONTENT_TYPE" not in e and "HTTP_CONTENT_LENGTH" not in e
    assert "HTTP_X_UNDER_SCORE" not in e, "a field with '_' is dropped"
    assert e["wsgi.version"] == (1, 0)
    assert e["wsgi.multithread"] is True and e["wsgi.multiprocess"] is False and e["wsgi.run_once"] is False
    assert e["wsgi.input_terminated"] is True
    assert e["wsgi.errors"] is sys.stderr
    assert e["wsgi.input"].read(2) == b"bo" and e["wsgi.input"].read() == b"dy"
    assert all(type(k) is str and (type(v) is str or k.startswith("wsgi.")) for k, v in e.items())


def input_routes(path, environ, start_response):
    """The wsgi.input routes; None for any other path."""
    global INPUT_ERRORS
    text = [("Content-Type", "text/plain")]
    body = environ["wsgi.input"]
    if path == "/input-hash":  # read in 64 KiB chunks, hashed as they come
        import hashlib  # here, not at the top: see the note at the top of this file
        digest, length, reads = hashlib.sha256(), 0, 0
        while True:
            chunk = body.read(64 * 1024)
            if not chunk:
                break
            reads += 1
            length += len(chunk)
            digest.update(chunk)
        start_response("200 OK", text)
        return [f"{length} {digest.hexdigest()} {reads} {environ.get('CONTENT_LENGTH')}".encode()]
    if path == "/input-first-line":  # answers before the body has ended
        line = body.readline()
        start_response("200 OK", text)
        return [line]
    if path == "/input-lines":
        first = body.readline(2)
        rest = body.readlines(1)
        more = list(body)
        start_response("200 OK", text)
        return [repr((first, rest, more, body.read())).encode()]
    if path == "/input-wait":  # reads to the end; the client resets meanwhile
        try:
            body.read()
        except OSError:
            INPUT_ERRORS += 1
            start_response("500 Internal Server Error", text)
            return [b"read failed"]
        start_response("200 OK", text)
        return [b"read"]
    if path == "/input-errors":
        start_response("200 OK", text)
        return [str(INPUT_ERRORS).encode()]
    return None


def app(environ, start_response):
    path = environ["PATH_INFO"]
    text = [("Content-Type", "text/plain")]
    answer = input_routes(path, environ, start_response)
    if answer is not None:
        return answer
    if path.startswith("/environ"):
        check_environ(environ)
        start_response("200 OK", text)
        return [b"ok"]
    if path == "/protocol":
        start_response("200 OK", text)
        return [environ["SERVER_PROTOCOL"].encode()]
    if path == "/closed":
        start_response("200 OK", text)
        return [str(CLOSED).encode()]
    if path == "/constants":
        # The constant values are made once per interpreter (the same objects
        # request after request), and what an app writes into its environ
        # does not reach the next one.
        fresh = "x.leak" not in environ and environ["SCRIPT_NAME"] == "" and environ["wsgi.version"] == (1, 0)
        environ["x.leak"], environ["SCRIPT_NAME"] = True, "/mutated"
        SEEN_CONSTANTS.append((environ["wsgi.version"], environ["SERVER_PROTOCOL"]))
        del SEEN_CONSTANTS[:-2]
        same = len(SEEN_CONSTANTS) == 2 and all(a is b for a, b in zip(*SEEN_CONSTANTS))
        start_response("200 OK", text)
        return [b"fresh " if fresh else b"leaked ", b"same" if same else b"new"]
    if path == "/list":
        start_response("201 Created", text + [("X-Two", "2"), ("Connection", "close"), ("Keep-Alive", "5")])
        return [b"a", b"", b"b"]
    if path == "/write":
        write = start_response("200 OK", text)
        write(b"w1")
        write(bytearray(b"w2"))
        return Closing([b"", b"x"])
    if path == "/late-start":
        def late():
            start_response("202 Accepted", [("X-Late", "yes")])
            yield b""
            yield b"data"
            yield b"more"
        return late()
    if path == "/closing-stream":
        start_response("200 OK", text)
        return Closing([b"one", b"two"])
    if path == "/closing-empty":
        start_response("204 No Content", [])
        return Closing([b""])
    if path == "/raise-before":
        raise KeyError("before the response")
    if path == "/raise-in-first":
        start_response("200 OK", text)
        return Closing([], fail="in the first piece")
    if path == "/no-start":
        return Closing([b"x"])
    if path == "/exc-info-replace":
        start_response("200 OK", text)
        try:
            raise ValueError("replaced")
        except ValueError:
            start_response("503 Service Unavailable", [("X-Replaced", "yes")], sys.exc_info())
        return [b"sorry"]
    if path == "/exc-info-after":
        def after():
            start_response("200 OK", text)
            yield b"first"
            try:
                raise ValueError("too late to change the headers")
            except ValueError:
                start_response("500 Internal Server Error", [], sys.exc_info())
            yield b"never"
        return after()
    if path == "/second-call":
        start_response("200 OK", text)
        start_response("200 OK", text)
        return [b"never"]
    if path == "/bad-header":
        start_response("200 OK", [("X-Bad", "a\r\nb")])
        return [b"never"]
    if path == "/bad-status":
        start_response("99 Too Low", text)
        return [b"never"]
    if path == "/gen-raises":
        start_response("200 OK", text)
        return Closing([b"a"], fail="broken WSGI body")
    if path == "/forever":
        start_response("200 OK", text)
        return Closing([], forever=True)
    if path == "/str-piece":
        start_response("200 OK", text)
        return ["text"]
    start_response("404 Not Found", text)
    return [b"no route\n"]


# Shapes for the interface detection (app_interface.hpp).
def native(request):
    return "native"


class WsgiObject:
    def __call__(self, environ, start_response):
        return app(environ, start_response)


wsgi_object = WsgiObject()


async def asgi(scope, receive, send):
    pass


async def async_native(request):
    return "async"


def three(a, b, c):
    return None
