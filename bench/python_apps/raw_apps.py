"""Framework-free apps for callgrind_per_request.sh: the same 13-byte answer
as the frameworks' /hello, with the least Python per request, so that what a
request costs on them is (almost) all server: the framework's own cost is
the difference to flask_app / starlette_app.

wsgi_hello   a WSGI app: start_response, then a one-item list
asgi_hello   an ASGI 3 app: http.response.start, then the whole body
native_hello def app(request) returning bytes (fastrt's own interface)
"""

BODY = b"Hello, world!"
WSGI_HEADERS = [("Content-Type", "text/plain"), ("Content-Length", "13")]
ASGI_HEADERS = [(b"content-type", b"text/plain"), (b"content-length", b"13")]


def wsgi_hello(environ, start_response):
    start_response("200 OK", WSGI_HEADERS)
    return [BODY]


async def asgi_hello(scope, receive, send):
    if scope["type"] != "http":
        return  # no lifespan: fastrt-h2 --lifespan off
    await send({"type": "http.response.start", "status": 200, "headers": ASGI_HEADERS})
    await send({"type": "http.response.body", "body": BODY})


def native_hello(request):
    return BODY
