"""Sends the same requests to an ASGI app (tests/http2/apps/starlette_app.py or
quart_app.py) on fastrt-h2 (HTTP/2, python-h2) and on uvicorn (HTTP/1.1,
http.client) and compares status, body, content-type, location and
set-cookie. Prints one line per check; exits 1 when any fails.

usage: asgi_compare.py FASTRT_PORT UVICORN_PORT
Bounded: every socket has a 10 s timeout; ~15 requests per server."""
import functools
import hashlib
import json
import os
import sys

import compare_servers
from compare_servers import check

fastrt_port, uvicorn_port = int(sys.argv[1]), int(sys.argv[2])
over_h2 = functools.partial(compare_servers.over_h2, fastrt_port)
over_http1 = functools.partial(compare_servers.over_http1, uvicorn_port)

upload = os.urandom(3 * 1024 * 1024)
requests = [
    ("hello", "GET", "/", (), b""),
    ("HEAD", "HEAD", "/", (), b""),
    ("JSON in and out", "POST", "/json", (("content-type", "application/json"),),
     json.dumps({"name": "fastrt", "n": [1, 2, 3], "nested": {"ok": True}}).encode()),
    ("query string", "GET", "/query?a=1&a=2&b=%C3%A9+x&empty=", (), b""),
    ("percent-encoded path", "GET", "/path/caf%C3%A9%20au%20lait", (), b""),
    ("cookies set", "GET", "/cookie/set", (), b""),
    ("cookies read", "GET", "/cookie/get", (("cookie", "flavour=oatmeal; colour=blue"),), b""),
    ("redirect", "GET", "/redirect", (), b""),
    ("streamed response", "GET", "/stream?n=50", (), b""),
    ("3 MiB upload hashed while it streams in", "POST", "/upload", (("content-type", "application/octet-stream"),),
     upload),
    ("app exception (500)", "GET", "/boom", (), b""),
    ("lifespan startup state", "GET", "/lifespan-state", (), b""),
    ("await asyncio.sleep(0.01)", "GET", "/sleep", (), b""),
    ("404 from a route", "GET", "/missing-json", (), b""),
    ("404, no route", "GET", "/nope", (), b""),
]
for name, method, path, headers, body in requests:
    ours, theirs = over_h2(method, path, headers, body), over_http1(method, path, headers, body)
    same = ours.compared() == theirs.compared()
    detail = "fastrt-h2 %r\n     uvicorn   %r" % (ours.compared(), theirs.compared())
    check("same answer: %s (%s %s -> %s)" % (name, method, path, ours.status), same, detail)
    if name.startswith("3 MiB"):
        try:
            digest = json.loads(ours.body)["sha256"]
        except (ValueError, KeyError):
            digest = None
        check("the upload's hash is right", digest == hashlib.sha256(upload).hexdigest(),
              ours.body.decode(errors="replace"))
    if name.startswith("streamed"):
        check("the streamed body came in 50 pieces", ours.body.count(b"\n") == 50, repr(ours.body[:80]))
    if name.startswith("lifespan"):
        check("the startup ran", b"hello from startup" in ours.body, repr(ours.body[:80]))

failures = compare_servers.failures
print("%d check(s) failed" % failures if failures else "all checks passed")
sys.exit(1 if failures else 0)
