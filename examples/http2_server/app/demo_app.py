"""fastrt-h2's bundled demo app (the default --app demo_app:app).

    GET  /               a greeting (str)
    POST any path        echoes the request body
    GET  /headers        the request headers, one "name: value" per line
    GET  /json           a fastrt.Response with a content type
    GET  /stream?bytes=N N bytes (default 1 MiB) streamed from a generator
                         in 64 KiB pieces, with a content-length
    GET  /slow           answers after half a second (graceful-shutdown tests)
    GET  /error          raises: the client gets 500, the traceback goes to stderr
    GET  /invalid        returns an unsupported value: 500 and a log line
    anything else        404

`request` is a fastrt.Request (method, path, query, headers, body); the
`fastrt` module is built into the server.
"""

import json
import time
import urllib.parse

import fastrt

PIECE = 64 * 1024


def stream(request):
    values = urllib.parse.parse_qs(request.query).get("bytes", [str(1 << 20)])
    try:
        total = int(values[0])
        if total < 0:
            raise ValueError
    except ValueError:
        return (400, [("content-type", "text/plain; charset=utf-8")], "bytes must be a non-negative integer\n")

    def pieces():
        piece = b"x" * PIECE
        left = total
        while left > 0:
            n = min(left, PIECE)
            yield piece if n == PIECE else piece[:n]
            left -= n

    # A generator as the body: the server pulls one piece at a time, so
    # memory stays bounded whatever N is.
    return (200, [("content-type", "application/octet-stream"), ("content-length", str(total))], pieces())


def app(request):
    if request.method == "POST":
        return (200, [("content-type", "application/octet-stream")], request.body)
    if request.path == "/":
        return "Hello from fastrt-h2 (Python)\n"
    if request.path == "/headers":
        lines = [f"{name}: {value}" for name, value in request.headers]
        return (200, [("content-type", "text/plain; charset=utf-8")], "\n".join(lines) + "\n")
    if request.path == "/json":
        body = {"method": request.method, "scheme": request.scheme, "path": request.path, "query": request.query,
                "user_agent": request.headers.get("User-Agent")}
        return fastrt.Response(json.dumps(body) + "\n", content_type="application/json")
    if request.path == "/stream":
        return stream(request)
    if request.path == "/slow":
        time.sleep(0.5)
        return "slow answer\n"
    if request.path == "/error":
        raise RuntimeError("the demo app failed on purpose")
    if request.path == "/invalid":
        return 42
    return (404, [("content-type", "text/plain; charset=utf-8")], f"no route for {request.path}\n")
