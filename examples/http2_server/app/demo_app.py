"""fastrt-h2's bundled demo app (the default --app demo_app:app).

    GET  /            a greeting (str)
    POST any path     echoes the request body
    GET  /headers     the request headers, one per line
    GET  /slow        answers after half a second (graceful-shutdown tests)
    GET  /error       raises: the client gets 500, the traceback goes to stderr
    GET  /invalid     returns an unsupported value: 500 and a log line
    anything else     404
"""

import time


def app(request):
    if request.method == "POST":
        return (200, [("content-type", "application/octet-stream")], request.body)
    if request.path == "/":
        return "Hello from fastrt-h2 (Python)\n"
    if request.path == "/headers":
        lines = [f"{name}: {value}" for name, value in request.headers]
        return (200, [("content-type", "text/plain; charset=utf-8")], "\n".join(lines) + "\n")
    if request.path == "/slow":
        time.sleep(0.5)
        return "slow answer\n"
    if request.path == "/error":
        raise RuntimeError("the demo app failed on purpose")
    if request.path == "/invalid":
        return 42
    return (404, [("content-type", "text/plain; charset=utf-8")], f"no route for {request.path}\n")
