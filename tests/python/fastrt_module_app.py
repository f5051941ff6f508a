"""The app http2_python_app_test.cpp calls through the bridge's python_app:
one route per thing it checks. Checks made in Python raise AssertionError
with what differed; the C++ side expects the body "ok"."""

import gc

import fastrt

kept = []
closed = []


def expect(exc_type, words, fn):
    try:
        fn()
    except exc_type as e:
        for w in words:
            assert w in str(e), f"{exc_type.__name__} message {str(e)!r} lacks {w!r}"
        return
    raise AssertionError(f"expected {exc_type.__name__} mentioning {words}")


def check_fields(request):
    assert type(request) is fastrt.Request, type(request)
    assert request.method == "PUT", request.method
    assert request.path == "/fields", request.path
    assert request.query == "a=1&b=\xe9", repr(request.query)  # latin-1: one code point per octet
    assert request.body == b"body\x00bytes", request.body
    assert type(request.body) is bytes
    assert repr(request) == "<fastrt.Request PUT /fields?a=1&b=\xe9>", repr(request)
    assert request.headers is request.headers  # made once
    return "ok"


def check_headers(request):
    h = request.headers
    assert type(h) is fastrt.Headers, type(h)
    assert len(h) == 4, len(h)
    assert list(h) == [("x-demo", "yes"), ("cookie", "a=1; b=2"), ("x-multi", "1"), ("x-multi", "2")], list(h)
    assert h[0] == ("x-demo", "yes") and h[-1] == ("x-multi", "2"), (h[0], h[-1])
    expect(IndexError, ["out of range"], lambda: h[4])
    assert h.get("X-Demo") == "yes" and h.get("x-DEMO") == "yes"
    assert h.get("missing") is None and h.get("missing", "dflt") == "dflt"
    assert h.get("missing", default=0) == 0
    assert h.get("X-MULTI") == "1"
    assert h.getall("x-multi") == ["1", "2"] and h.getall("nope") == []
    assert h.get("cookie") == "a=1; b=2"
    expect(TypeError, ["header name must be str"], lambda: h.get(b"x-demo"))
    assert dict(h) == {"x-demo": "yes", "cookie": "a=1; b=2", "x-multi": "2"}
    assert repr(h).startswith("fastrt.Headers((('x-demo', 'yes'),"), repr(h)
    expect(TypeError, ["cannot create"], lambda: fastrt.Headers())
    expect(TypeError, ["cannot create"], lambda: fastrt.Request())
    return "ok"


def method_only(request):
    return request.method


def keep(request):
    kept.append(request)
    return "kept"


def keep_in_generator(request):
    def pieces():
        yield request.path
        yield request.headers.get("x-demo")
        yield request.body
    return fastrt.Response(pieces())


def read_kept(request):
    r = kept.pop()
    gc.collect()
    return f"{r.method} {r.path} {r.query} {list(r.headers)} {r.body!r} {r!r}"


def check_response_errors(request):
    R = fastrt.Response
    expect(TypeError, ["body must be", "int"], lambda: R(42))
    expect(TypeError, ["status must be an int", "str"], lambda: R(b"", "200"))
    expect(TypeError, ["status must be an int", "bool"], lambda: R(b"", True))
    expect(ValueError, ["200..599", "700"], lambda: R(b"", 700))
    expect(ValueError, ["200..599"], lambda: R(b"", 10**30))
    expect(TypeError, ["mapping or an iterable"], lambda: R(b"", 200, 5))
    expect(TypeError, ["(name, value) pairs"], lambda: R(b"", 200, [("a", "b", "c")]))
    expect(TypeError, ["header value must be str or bytes"], lambda: R(b"", 200, [("a", 1)]))
    expect(ValueError, ["NUL, CR or LF"], lambda: R(b"", 200, [("x-a", "1\r\nset-cookie: evil")]))
    expect(ValueError, ["not allowed in a field name"], lambda: R(b"", 200, [(":status", "200")]))
    expect(ValueError, ["connection-specific"], lambda: R(b"", 200, {"Connection": "close"}))
    expect(TypeError, ["content_type must be str"], lambda: R(b"", content_type=1))
    expect(ValueError, ["content-type field too"],
           lambda: R(b"", headers=[("Content-Type", "a/b")], content_type="c/d"))
    expect(TypeError, ["Response()"], lambda: R(b"", 200, None, None, "extra"))
    ok = R("h\xe9", 201, {"X-A": b"1"}, content_type="text/plain")
    assert ok.status == 201 and ok.body == "h\xe9".encode() and ok.headers == (("x-a", b"1"), ("content-type", "text/plain"))
    assert R(bytearray(b"ab")).body == b"ab" and R().body == b"" and R(memoryview(b"mv")).body == b"mv"
    assert repr(ok) == "<fastrt.Response 201, 2 header(s), 3 bytes>", repr(ok)
    expect(AttributeError, [], lambda: setattr(ok, "status", 500))
    return "ok"


def gen(pieces, finish=None):
    try:
        for p in pieces:
            yield p
        if finish:
            raise finish
    finally:
        closed.append(True)


def app(request):
    path = request.path
    if path == "/bytes":
        return b"raw"
    if path == "/bytearray":
        return bytearray(b"ba")
    if path == "/str":
        return "text \u20ac"
    if path == "/tuple":
        return (201, [("X-One", "1"), (b"x-two", b"2")], "tuple body")
    if path == "/tuple-none":
        return (204, [], None)
    if path == "/response":
        return fastrt.Response(b"{}", 202, [("x-r", "1")], content_type="application/json")
    if path == "/response-list":
        return fastrt.Response([b"a", "b", b"c"])
    if path == "/response-gen":
        return fastrt.Response(gen([b"one", b"", "two", b"three" * 1000]), headers={"content-length": "5008"})
    if path == "/tuple-gen":
        return (200, [("content-type", "application/octet-stream")], gen([b"x" * 10, b"y"]))
    if path == "/gen-raises":
        return fastrt.Response(gen([b"first"], ValueError("broken generator")))
    if path == "/gen-bad-piece":
        return (200, [], iter([b"fine", 42]))
    if path == "/gen-forever":
        return (200, [], gen(iter(lambda: b"z", None)))
    if path == "/closed":
        return str(len(closed))
    if path == "/invalid-int":
        return 42
    if path == "/invalid-status":
        return (99, [], b"")
    if path == "/invalid-header":
        return (200, [("x-bad", "a\nb")], b"")
    if path == "/invalid-body":
        return (200, [], 3.5)
    if path == "/list-body":
        return (200, [], [b"a"])  # a list is not an iterator: tuples stream iterators only
    if path == "/raise":
        raise KeyError("boom")
    raise AssertionError(f"no route {path}")


def check_connection(request):
    # What the connection knows (request.hpp's scheme, client, server).
    assert request.scheme == "http", request.scheme
    assert request.client == ("127.0.0.1", 50123), request.client
    assert request.server == ("::1", 8443), request.server
    assert request.authority == "example.test:8443" and request.host == request.authority, request.authority
    assert request.raw_path == b"/caf%C3%A9/x", request.raw_path
    assert type(request.raw_path) is bytes
    assert request.path == "/caf%C3%A9/x", request.path
    return "ok"


def check_no_connection(request):
    # A request with no addresses (a socketpair): None, and the host field
    # when there is no :authority.
    assert request.client is None and request.server is None, (request.client, request.server)
    assert request.authority == "from-host-field" and request.host == "from-host-field", request.authority
    assert request.raw_path == b"/", request.raw_path
    return "ok"
