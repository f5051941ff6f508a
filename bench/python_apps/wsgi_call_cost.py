#!/usr/bin/python3
"""The Flask app's own CPU cost per request, with no server: what bounds any server's req/s.

usage: wsgi_call_cost.py [N]     (run it with each interpreter to compare, e.g. Debian's
                                  /usr/bin/python3 and the pyenv CPython fastrt-h2 embeds)

Calls flask_app.app(environ, start_response) with a minimal GET environ and joins the body,
2,000 times to warm up and then N times (default 20,000) per route, and prints the CPU time
(time.process_time) per call. Debian's dist-packages is appended to sys.path, as fastrt-h2's
--python-path does, so a non-Debian python3 finds Flask.
"""

import io
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.append("/usr/lib/python3/dist-packages")
from flask_app import app  # noqa: E402


def environ(path):
    return {"REQUEST_METHOD": "GET", "SCRIPT_NAME": "", "PATH_INFO": path, "QUERY_STRING": "",
            "SERVER_NAME": "127.0.0.1", "SERVER_PORT": "8080", "SERVER_PROTOCOL": "HTTP/1.1",
            "REMOTE_ADDR": "127.0.0.1", "HTTP_HOST": "127.0.0.1:8080", "wsgi.version": (1, 0),
            "wsgi.url_scheme": "http", "wsgi.input": io.BytesIO(), "wsgi.errors": sys.stderr,
            "wsgi.multithread": False, "wsgi.multiprocess": False, "wsgi.run_once": False}


def start_response(status, headers, exc_info=None):
    return lambda data: None


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 20000
    for path in ("/hello", "/json"):
        for _ in range(2000):
            b"".join(app(environ(path), start_response))
        start = time.process_time()
        for _ in range(n):
            b"".join(app(environ(path), start_response))
        per_call = (time.process_time() - start) / n
        print(f"Python {sys.version.split()[0]} {path}: {per_call * 1e6:.0f} µs per request "
              f"(at most {1 / per_call:,.0f} req/s per core)")


if __name__ == "__main__":
    main()
