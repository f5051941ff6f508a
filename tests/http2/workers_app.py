"""The Python app of tests/http2/shutdown_test.sh (and dispatch_test.sh).

Imports the stdlib modules whose C parts are shared between interpreters
(datetime, email, sqlite3, zoneinfo all import _datetime), like many real apps.

    GET /sleep?s=SECONDS   answers after sleeping (a blocked worker)
    GET /where             "THREAD-NAME INTERPRETER-ID THREAD-ID": which worker answered
    anything else          "ok"
"""
import datetime
import email.utils
import sqlite3
import threading
import time
from urllib.parse import parse_qs

try:
    import zoneinfo  # noqa: F401
except (ImportError, AttributeError):  # 3.12: not in own-GIL subinterpreters (no datetime C API there)
    pass

try:
    from _interpreters import get_current as _current  # 3.13
except ImportError:
    from _xxsubinterpreters import get_current as _current  # 3.12


def _interpreter_id():
    current = _current()
    return int(current[0] if isinstance(current, tuple) else current)


def where():
    # The executor names its threads "py-KIND-INDEX" (Linux: 15 characters).
    native = threading.get_native_id()
    with open(f"/proc/self/task/{native}/comm") as comm:
        thread = comm.read().strip()
    return f"{thread} {_interpreter_id()} {native}\n"


def app(request):
    if request.path == "/sleep":
        time.sleep(float(parse_qs(request.query).get("s", ["1.5"])[0]))
        return "slept\n"
    if request.path == "/where":
        return where()
    return "ok\n"
