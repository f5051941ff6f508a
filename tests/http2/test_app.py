"""The Python app of tests/http2/server_limits_test.sh.

    GET /sleep?s=SECONDS   answers after sleeping (timeouts, full queues, shutdown)
    GET /hit               counts a call in this interpreter and returns the count
    GET /hits              the count so far (was queued work skipped?)
    GET /stream?bytes=N    N bytes from a generator, as a fastrt.Response
    GET /stall?s=SECONDS   a streamed body whose generator blocks after its first piece
    POST /echo             the request body
    GET /big?bytes=N       N bytes in one (not streamed) body
    anything else          "ok"
"""
import time
from urllib.parse import parse_qs

import fastrt

hits = 0


def app(request):
    global hits
    if request.path == "/sleep":
        time.sleep(float(parse_qs(request.query).get("s", ["0.5"])[0]))
        return "slept\n"
    if request.path == "/hit":
        hits += 1
        return f"{hits}\n"
    if request.path == "/hits":
        return f"{hits}\n"
    if request.path == "/echo" and request.method == "POST":
        return (200, [("content-type", "application/octet-stream")], request.body)
    if request.path == "/big":
        return (200, [("content-type", "application/octet-stream")], b"b" * int(parse_qs(request.query)["bytes"][0]))
    if request.path == "/stall":
        return fastrt.Response(stalled(float(parse_qs(request.query).get("s", ["5"])[0])),
                               content_type="application/octet-stream")
    if request.path == "/stream":
        return fastrt.Response(pieces(int(parse_qs(request.query)["bytes"][0])),
                               content_type="application/octet-stream")
    return "ok\n"


def pieces(total, size=64 * 1024):
    piece = b"p" * size
    while total > 0:
        yield piece[:min(size, total)]
        total -= size


def stalled(seconds):
    yield b"first piece\n"
    time.sleep(seconds)
    yield b"too late\n"
