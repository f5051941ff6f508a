"""fastrt-h2 benchmark app: every request gets the same 13-byte body.

Returned as bytes so that the server sends it as-is (no str encoding step);
the body matches the static file nghttpd/h2o serve and hello_asgi.py.
"""


def app(request):
    return b"Hello, world!"
