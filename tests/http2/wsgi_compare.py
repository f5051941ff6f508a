"""Sends the same requests to the Flask app (tests/http2/apps/flask_app.py) on
fastrt-h2 (HTTP/2, python-h2) and on gunicorn (HTTP/1.1, http.client) and
compares status, body, content-type, location, set-cookie and allow; then
checks what only fastrt-h2's answers show (the WSGI environ it built, the
client's port). Prints one line per check; exits 1 when any fails.

usage: wsgi_compare.py FASTRT_PORT GUNICORN_PORT
Bounded: every socket has a 10 s timeout; ~20 requests per server."""
import json
import sys

import compare_servers
from compare_servers import check

fastrt_port, gunicorn_port = int(sys.argv[1]), int(sys.argv[2])
# Flask answers 405 with an allow field for a route's other methods.
requests = compare_servers.common_requests() + [("405 with allow", "GET", "/json", (), b"")]
compare_servers.compare_all(requests, fastrt_port, gunicorn_port, "gunicorn")

# What fastrt-h2 built (not comparable with gunicorn: HTTP/2, its ports).
env_answer = compare_servers.over_h2(fastrt_port, "GET", "/environ", (("x-repeat", "1"), ("x-repeat", "2")))
env = json.loads(env_answer.body)
expected = {"REQUEST_METHOD": "GET", "SCRIPT_NAME": "", "PATH_INFO": "/environ", "QUERY_STRING": "",
            "SERVER_NAME": "127.0.0.1", "SERVER_PORT": str(fastrt_port), "SERVER_PROTOCOL": "HTTP/2",
            "REMOTE_ADDR": "127.0.0.1", "REMOTE_PORT": str(env_answer.client_port),
            "HTTP_HOST": "127.0.0.1:%d" % fastrt_port, "HTTP_X_REPEAT": "1,2", "wsgi.url_scheme": "http",
            "wsgi.version": [1, 0], "wsgi.multithread": True, "wsgi.multiprocess": False, "wsgi.run_once": False,
            "wsgi.input_terminated": True}
for key, value in expected.items():
    check("environ %s = %r" % (key, value), env.get(key) == value, "got %r" % (env.get(key),))

compare_servers.finish()
