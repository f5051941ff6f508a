"""Sends the same requests to an ASGI app (tests/http2/apps/starlette_app.py or
quart_app.py) on fastrt-h2 (HTTP/2, python-h2) and on uvicorn (HTTP/1.1,
http.client) and compares status, body, content-type, location and
set-cookie (compare_servers.py). Prints one line per check; exits 1 when any
fails.

usage: asgi_compare.py FASTRT_PORT UVICORN_PORT
Bounded: every socket has a 10 s timeout; ~15 requests per server."""
import sys

import compare_servers

fastrt_port, uvicorn_port = int(sys.argv[1]), int(sys.argv[2])
requests = compare_servers.common_requests() + [
    ("lifespan startup state", "GET", "/lifespan-state", (), b""),
    ("await asyncio.sleep(0.01)", "GET", "/sleep", (), b""),
]
compare_servers.compare_all(requests, fastrt_port, uvicorn_port, "uvicorn")
lifespan = compare_servers.over_h2(fastrt_port, "GET", "/lifespan-state")
compare_servers.check("the startup ran on fastrt-h2", b"hello from startup" in lifespan.body, repr(lifespan.body[:80]))
compare_servers.finish()
