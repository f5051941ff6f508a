"""Hypercorn benchmark app (ASGI 3): every HTTP request gets the same 13 bytes
as bench/http2/hello_app.py and the static file nghttpd/h2o serve."""

BODY = b"Hello, world!"
HEADERS = [(b"content-type", b"text/plain"), (b"content-length", b"13")]


async def app(scope, receive, send):
    if scope["type"] == "lifespan":
        # Answer startup/shutdown so that Hypercorn does not log a lifespan error.
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    # A GET has no body to read: answer at once.
    await send({"type": "http.response.start", "status": 200, "headers": HEADERS})
    await send({"type": "http.response.body", "body": BODY})
