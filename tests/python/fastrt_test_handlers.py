"""Handlers the python_* tests load into interpreters (tests/python is on sys.path)."""

import time

state = "initial"


def echo(body):
    return bytes(body)


def upper(body):
    return bytes(body).decode().upper()


def add(a, b):
    return a + b


def spin(n):
    """CPU-bound, holds the GIL throughout."""
    total = 0
    for i in range(n):
        total += i * i % 7
    return total


def set_state(value):
    global state
    state = str(value)
    return 0


def get_state(_body):
    return state


def _inner(body):
    raise ValueError(f"bad request: {bytes(body).decode()}")


def fail(body):
    return _inner(body)


def sleep_ms(ms):
    time.sleep(ms / 1000)
    return ms


def import_stdlib(_body):
    """Imports what real handlers import; shutdown must still be clean."""
    import asyncio  # noqa: F401
    import json
    import ssl  # noqa: F401
    import threading

    out = []
    t = threading.Thread(target=lambda: out.append(json.dumps({"ok": 1})))
    t.start()
    t.join()
    return out[0]


kept = []


def keep_view(body):
    kept.append(body)
    return "kept"


def keep_views(body):
    """Keeps the body and every kind of view of it that outlived release() on
    a memoryview: slices, memoryview(body), casts."""
    view = memoryview(body)
    kept.extend([body, body[:], view, view[:], view.cast("B"), memoryview(view)])
    return type(body).__name__


def read_kept(_body):
    try:
        return bytes(kept[-1])
    except ValueError as e:
        return f"ValueError: {e}"


def native_answer(_body):
    import _fastrt_test_native

    return str(_fastrt_test_native.answer())


def not_callable():
    pass


not_callable = 5
