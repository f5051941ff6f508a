"""Sends the same requests to the Flask app (tests/http2/apps/flask_app.py) on
fastrt-h2 (HTTP/2, python-h2) and on gunicorn (HTTP/1.1, http.client) and
compares status, body, content-type, location, set-cookie and allow; then
checks what only fastrt-h2's answers show (the WSGI environ it built, the
client's port). Prints one line per check; exits 1 when any fails.

usage: wsgi_compare.py FASTRT_PORT GUNICORN_PORT
Bounded: every socket has a 10 s timeout; ~20 requests per server."""
import functools
import hashlib
import json
import os
import sys

import compare_servers
from compare_servers import check

fastrt_port, gunicorn_port = int(sys.argv[1]), int(sys.argv[2])
over_h2 = functools.partial(compare_servers.over_h2, fastrt_port)
over_http1 = functools.partial(compare_servers.over_http1, gunicorn_port)


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
    ("streamed response (generator)", "GET", "/stream?n=50", (), b""),
    ("3 MiB upload hashed from request.stream", "POST", "/upload",
     (("content-type", "application/octet-stream"),), upload),
    ("app exception (Flask's 500)", "GET", "/boom", (), b""),
    ("404 from a route", "GET", "/missing-json", (), b""),
    ("404, no route", "GET", "/nope", (), b""),
    ("405 with allow", "GET", "/json", (), b""),
]
for name, method, path, headers, body in requests:
    ours, theirs = over_h2(method, path, headers, body), over_http1(method, path, headers, body)
    same = ours.compared() == theirs.compared()
    detail = "fastrt-h2 %r\n     gunicorn  %r" % (ours.compared(), theirs.compared())
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

# What fastrt-h2 built (not comparable with gunicorn: HTTP/2, its ports).
env_answer = over_h2("GET", "/environ", (("x-repeat", "1"), ("x-repeat", "2")))
env = json.loads(env_answer.body)
expected = {"REQUEST_METHOD": "GET", "SCRIPT_NAME": "", "PATH_INFO": "/environ", "QUERY_STRING": "",
            "SERVER_NAME": "127.0.0.1", "SERVER_PORT": str(fastrt_port), "SERVER_PROTOCOL": "HTTP/2",
            "REMOTE_ADDR": "127.0.0.1", "REMOTE_PORT": str(env_answer.client_port),
            "HTTP_HOST": "127.0.0.1:%d" % fastrt_port, "HTTP_X_REPEAT": "1,2", "wsgi.url_scheme": "http",
            "wsgi.version": [1, 0], "wsgi.multithread": True, "wsgi.multiprocess": False, "wsgi.run_once": False,
            "wsgi.input_terminated": True}
for key, value in expected.items():
    check("environ %s = %r" % (key, value), env.get(key) == value, "got %r" % (env.get(key),))

failures = compare_servers.failures
print("%d check(s) failed" % failures if failures else "all checks passed")
sys.exit(1 if failures else 0)
