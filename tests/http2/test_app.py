"""The Python app of tests/http2/server_limits_test.sh.

    GET /sleep?s=SECONDS   answers after sleeping (timeouts, full queues, shutdown)
    GET /hit               counts a call in this interpreter and returns the count
    GET /hits              the count so far (was queued work skipped?)
    GET /stream?bytes=N    N bytes from a generator, as a fastrt.Response
    GET /stall?s=SECONDS   a streamed body whose generator blocks after its first piece
    POST /echo             the request body
    POST /first-chunk      the body's first line, answered before the body has ended (request.chunks())
    POST /read-hash        "LENGTH SHA256 READS" of the body read with request.read(65536)
    POST /read-wait        reads the whole body; a failed read (a client reset) counts in /read-errors
    GET /big?bytes=N       N bytes in one (not streamed) body
    anything else          "ok"
"""
import hashlib
import time
from urllib.parse import parse_qs

import fastrt

hits = 0
read_errors = 0


def app(request):
    global hits, read_errors
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
    if request.path == "/first-chunk":
        return next(request.chunks()).split(b"\n")[0] + b"\n"
    if request.path == "/read-hash":
        digest, length, reads = hashlib.sha256(), 0, 0
        while chunk := request.read(65536):
            reads += 1
            length += len(chunk)
            digest.update(chunk)
        return f"{length} {digest.hexdigest()} {reads}"
    if request.path == "/read-wait":
        try:
            request.read()
        except OSError:
            read_errors += 1
            return (500, [], b"read failed")
        return "read"
    if request.path == "/read-errors":
        return f"{read_errors}"
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
