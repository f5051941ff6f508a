"""The Python app of tests/http2/operators_test.sh (operators' faults).

    GET /sleep       never answers (time.sleep(1e6)): a stuck handler
    GET /thread      starts a thread that never ends, answers "started"
    GET /print?TEXT  print()s TEXT to stdout, answers "printed"
    GET /syspath     sys.path, one entry per line
    GET /cpp/hello   this app's own answer (the C++ demo route must not shadow it)
    anything else    "operators app"
"""
import sys
import threading
import time


def app(request):
    if request.path == "/sleep":
        time.sleep(1e6)
        return "woke up\n"
    if request.path == "/thread":
        threading.Thread(target=time.sleep, args=(1e6,), name="never-ends").start()
        return "started\n"
    if request.path == "/print":
        print(request.query)
        return "printed\n"
    if request.path == "/syspath":
        return "\n".join(sys.path) + "\n"
    if request.path == "/cpp/hello":
        return "the app's own /cpp/hello\n"
    return "operators app\n"
