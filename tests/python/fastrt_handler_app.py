"""The apps http2_python_handler_test.cpp runs through python_handler: one
function per behaviour the handler must map to an HTTP answer."""

import time

calls = 0


def hello(request):
    return "hello " + request.path


def boom(request):
    raise ValueError("boom from the app at " + request.path)


def slow(request):
    time.sleep(float(request.query))
    return "late"


def count(request):
    """How many times this interpreter ran it (the test's one worker)."""
    global calls
    calls += 1
    return str(calls)


def stalls(request):
    def body():
        yield "first"
        time.sleep(float(request.query))
        yield "late"

    return (200, [("content-type", "text/plain")], body())


def bad_return(request):
    return 42
