"""The Python app of tests/http2/server_limits_test.sh.

    GET /sleep?s=SECONDS   answers after sleeping (timeouts, full queues, shutdown)
    GET /hit               counts a call in this interpreter and returns the count
    GET /hits              the count so far (was queued work skipped?)
    anything else          "ok"
"""
import time
from urllib.parse import parse_qs

hits = 0


def app(request):
    global hits
    if request.path == "/sleep":
        time.sleep(float(parse_qs(request.query).get("s", ["0.5"])[0]))
        return "slept\n"
    if request.path == "/hit":
        hits += 1
        return f"{hits}\n"
    if request.path == "/hits":
        return f"{hits}\n"
    return "ok\n"
