// asgi_glue.hpp — the Python side of an ASGI 3.0 call (asgi.hpp) and of the
// lifespan protocol (asgi_lifespan.hpp): a small Python source run once per
// interpreter, the first time that interpreter serves ASGI or an `async def
// app` (so a sync native or WSGI app never imports asyncio for it). Also
// `listed(coro, listed)`, the wrapper that keeps an async def app's call
// listed as running (app.hpp).
//
// Channel: one HTTP call. The app runs as its own asyncio Task, started
// eagerly by begin() (3.13+); the io thread talks to the channel only through
// jobs on the worker that made it: the first calls begin(), which returns
// the first event when the app has already answered, else next_event();
// the others await next_event(), which returns what the io side must do next:
//
//   (0,)                               the app waits in receive(): feed a piece
//   (1, status, headers, body, more)   the response starts (body: the first
//                                      piece, None when none came yet)
//   (2, body, more)                    the next piece of the response body
//
// or raises what the app raised (or a RuntimeError naming the app's broken
// contract). send() of a body piece with more_body True waits until the io
// side took it (a slow client makes send() wait: one piece in memory; the
// last piece is not waited for); http.response.start only
// records the head, which goes out with the first piece (or when the app
// waits for the request body, or ends). receive() gives the pieces fed by
// feed(); once the body is all given, it waits until the response is
// complete or the client is gone, then says http.disconnect (as uvicorn).
// disconnect() (the io side gave up: client reset, timeout, stream dropped)
// wakes receive() with http.disconnect and then cancels the app's Task
// (call_soon: the app sees the message first, CancelledError at its next
// await) unless the response was already complete.
//
// Lifespan: lifespan_startup(app, key) runs the app with a lifespan scope as
// a Task of this worker's loop and returns ("complete" | "failed" |
// "unsupported" | "returned", text); lifespan_shutdown(key, seconds) waits
// for the app's Tasks still running on that worker (cancelling them at the
// deadline: the worker's loop would drop them unfinished), then sends
// lifespan.shutdown and waits for the answer. The state dict the startup
// filled is kept per worker (`key`) and copied into every request's scope.
//
// Why Python source: every piece here is asyncio futures and Tasks; in C++
// it would be the same logic through the C API, longer and easier to get
// wrong.
//
// Thread-safety: the objects live in one interpreter and are touched only
// on the worker whose loop runs them, with the GIL. Cost: per request one
// Channel and the app's Task; an app that waits (for the request body, a
// streamed response) adds a next_event Task and a future per wait.
#pragma once

#include <Python.h>

#include <fastrt/http2/python/common.hpp>

namespace fastrt::http2::python::asgi {

inline constexpr const char* glue_source = R"PY(
import asyncio
import sys

# Eagerly started Tasks for apps: 3.12.1's have no current_task() (see Lifespan.ask).
_eager = sys.version_info >= (3, 13)

_states = {}      # worker key -> the lifespan state dict
_lifespans = {}   # worker key -> Lifespan
_running = {}     # worker key -> the app Tasks still running there (awaited at shutdown)


def _wake(futures):
    for f in futures:
        if not f.done():
            f.set_result(None)
    futures.clear()


class Channel:
    def __init__(self, app, scope, body, more_body, key, listed):
        state = _states.get(key)
        scope["state"] = dict(state) if state is not None else {}
        self.app, self.scope, self.key = app, scope, key
        self.listed = listed        # lists the call as running (in_flight_capsule.hpp) until the app's Task is done
        self.fed = None if body is None else (body, more_body)  # the 1-slot request body
        self.fed_last = body is not None and not more_body
        self.asked = False          # (0,) was returned and no feed() came yet
        self.wants_body = False     # the app waits in receive() for a piece
        self.head = None            # (status, headers): started, not yet taken
        self.piece = None           # (body, more): sent, not yet taken
        self.phase = 0              # 0: not started, 1: started, 2: complete
        self.disconnected = False
        self.task = None
        self.loop = None
        self.io_waiters = []        # next_event() waiting
        self.app_waiters = []       # receive() / send() waiting

    # ---- the io side ------------------------------------------------------
    def begin(self):
        # Starts the app's Task, eagerly (3.13+): an app that answers without
        # waiting (start, then one whole body) has finished here, and its
        # event comes back at once, with no Task and no future for the io
        # side. The worker's first awaitable job makes its loop (worker.hpp):
        # until then, next_event() starts the app from inside it.
        self.loop = asyncio._get_running_loop()
        if self.loop is None:
            return self.next_event()
        self._start_app()
        event = self._take()
        return event if event is not None else self.next_event()

    def _start_app(self):
        coro = self.app(self.scope, self.receive, self.send)
        self.task = (asyncio.Task(coro, loop=self.loop, eager_start=True) if _eager
                     else self.loop.create_task(coro))
        if self.task.done():
            # Finished eagerly: no callback to schedule (one loop round saved).
            self._app_done(self.task)
            return
        self.task.add_done_callback(self._app_done)
        running = _running.setdefault(self.key, set())
        running.add(self.task)
        self.task.add_done_callback(running.discard)

    async def next_event(self):
        if self.task is None:
            self.loop = asyncio.get_running_loop()
            self._start_app()
        try:
            while True:
                event = self._take()
                if event is not None:
                    return event
                waiter = self.loop.create_future()
                self.io_waiters.append(waiter)
                await waiter
        except asyncio.CancelledError:
            self.disconnect()
            raise

    def _app_done(self, task):
        self.listed = None
        _wake(self.io_waiters)
        if task.cancelled() or task.exception() is None:
            return
        if self.phase == 2 or self.disconnected:
            # Nobody waits for this outcome any more: say it (uvicorn logs it too).
            import sys, traceback
            print("fastrt-h2: %s %s: the ASGI app raised after its response was complete or the client left:"
                  % (self.scope["method"], self.scope["path"]), file=sys.stderr)
            traceback.print_exception(task.exception(), file=sys.stderr)

    def _take(self):
        if self.head is not None:
            status, headers = self.head
            self.head = None
            body, more = self._take_piece() if self.piece is not None else (None, True)
            return (1, status, headers, body, more)
        if self.piece is not None:
            return (2,) + self._take_piece()
        if self.wants_body and not self.asked and not self.fed_last and self.fed is None:
            self.asked = True
            return (0,)
        if self.task.done():
            if self.task.cancelled():
                raise asyncio.CancelledError()
            if self.phase == 2:
                return (2, b"", False)
            self.task.result()  # raises what the app raised
            if self.phase == 0:
                raise RuntimeError("the ASGI app returned without sending http.response.start")
            raise RuntimeError("the ASGI app returned before the response body's end (more_body was True)")
        return None

    def _take_piece(self):
        piece, self.piece = self.piece, None
        _wake(self.app_waiters)  # the send() that waits for it returns
        return piece

    def feed(self, body, more_body):
        self.fed = (body, more_body)
        self.fed_last = not more_body
        self.asked = False
        _wake(self.app_waiters)
        return self.next_event()

    def disconnect(self):
        if self.disconnected:
            return
        self.disconnected = True
        _wake(self.app_waiters)
        if self.phase != 2 and self.task is not None and not self.task.done():
            self.loop.call_soon(self.task.cancel)

    # ---- the app's receive and send ----------------------------------------
    async def receive(self):
        while True:
            if self.fed is not None:
                (body, more), self.fed = self.fed, None
                return {"type": "http.request", "body": body, "more_body": more}
            if self.disconnected or (self.fed_last and self.phase == 2):
                return {"type": "http.disconnect"}
            if not self.fed_last:
                self.wants_body = True
                _wake(self.io_waiters)
            waiter = self.loop.create_future()
            self.app_waiters.append(waiter)
            try:
                await waiter
            finally:
                self.wants_body = False

    async def send(self, message):
        kind = message.get("type") if isinstance(message, dict) else None
        if kind == "http.response.start":
            if self.phase != 0:
                raise RuntimeError("ASGI: http.response.start sent twice")
            status = message.get("status")
            if type(status) is not int or not 100 <= status <= 599:
                raise RuntimeError("ASGI: http.response.start needs an int status, got %r" % (status,))
            headers = []
            for pair in message.get("headers", ()):
                name, value = pair
                if not isinstance(name, bytes) or not isinstance(value, bytes):
                    raise RuntimeError("ASGI: header names and values must be bytes, got %r" % (pair,))
                headers.append((name, value))
            self.phase = 1
            self.head = (status, headers)
            _wake(self.io_waiters)
            return
        if kind == "http.response.body":
            if self.phase == 0:
                raise RuntimeError("ASGI: http.response.body sent before http.response.start")
            if self.phase == 2:
                raise RuntimeError("ASGI: http.response.body sent after the response ended (more_body was False)")
            body = message.get("body", b"")
            if not isinstance(body, (bytes, bytearray, memoryview)):
                raise RuntimeError("ASGI: the response body must be bytes, not " + type(body).__name__)
            more = bool(message.get("more_body", False))
            if not more:
                self.phase = 2
            if self.disconnected:
                # Nobody takes it. Yield once: an app that sends in a loop
                # gets its pending cancellation here instead of spinning.
                await asyncio.sleep(0)
                return
            if not body and more:
                return  # an empty piece would end the body
            self.piece = (bytes(body), more)
            _wake(self.io_waiters)
            # The last piece is not waited for: it is the one piece in
            # memory either way, and the app's Task ends without a future.
            while more and self.piece is not None and not self.disconnected:
                waiter = self.loop.create_future()
                self.app_waiters.append(waiter)
                await waiter
            if not more:
                _wake(self.app_waiters)  # a receive() waiting for the response's end
            return
        raise RuntimeError("ASGI: send() got an unexpected message %r" % (kind if kind else message,))


async def listed(coro, listed):
    # An `async def app`'s coroutine (app.hpp): this frame holds `listed`,
    # which lists the call as running (in_flight_capsule.hpp), until it ends.
    return await coro


class Lifespan:
    def __init__(self, app, key):
        self.app, self.key = app, key
        self.loop = asyncio.get_running_loop()
        self.inbox = asyncio.Queue()
        self.answer = None
        self.task = None

    async def _run(self):
        scope = {"type": "lifespan", "asgi": {"version": "3.0", "spec_version": "2.3"}, "state": _states[self.key]}
        try:
            await self.app(scope, self.inbox.get, self._send)
        except BaseException as e:
            if self.answer is not None and not self.answer.done():
                import traceback
                self.answer.set_result(("unsupported", "".join(traceback.format_exception(e)).rstrip()))
            if not isinstance(e, Exception):
                raise
        else:
            if self.answer is not None and not self.answer.done():
                self.answer.set_result(("returned", "the app returned during the lifespan without an answer"))

    async def _send(self, message):
        kind = message.get("type", "")
        if self.answer is not None and not self.answer.done() and kind.startswith("lifespan."):
            outcome = kind.rsplit(".", 1)[1]
            self.answer.set_result((outcome, str(message.get("message", ""))))

    async def ask(self, kind, seconds=None):
        # A timer, not asyncio.wait_for: in CPython 3.12.1 an eagerly started
        # task (event_loop.hpp) has no current_task(), which wait_for needs.
        self.answer = answer = self.loop.create_future()
        late = None
        if seconds is not None:
            late = self.loop.call_later(seconds, lambda: answer.done() or answer.set_result(
                ("failed", "no %s.complete within --shutdown-timeout" % kind)))
        if self.task is None:
            self.task = self.loop.create_task(self._run())
        self.inbox.put_nowait({"type": kind})
        try:
            return await answer
        finally:
            if late is not None:
                late.cancel()


async def lifespan_startup(app, key):
    _states[key] = {}
    lifespan = _lifespans[key] = Lifespan(app, key)
    outcome = await lifespan.ask("lifespan.startup")
    if outcome[0] != "complete":
        del _states[key]
        del _lifespans[key]
    return outcome


async def lifespan_shutdown(key, seconds):
    # The app's Tasks still running (a response's background work) first,
    # as uvicorn does; what is left at the deadline is cancelled.
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    running = _running.get(key)
    if running:
        done, late = await asyncio.wait(set(running), timeout=seconds)
        for task in late:
            task.cancel()
    lifespan = _lifespans.pop(key, None)
    if lifespan is None:
        return ("complete", "")
    outcome = await lifespan.ask("lifespan.shutdown", max(0.0, deadline - loop.time()))
    if not lifespan.task.done():
        lifespan.task.cancel()
    return outcome
)PY";

// This interpreter's glue namespace (a new reference), or null with an
// exception set.
inline PyObject* load_glue() {
  PyObject* globals = PyDict_New();
  if (!globals) return nullptr;
  if (PyDict_SetItemString(globals, "__builtins__", PyEval_GetBuiltins()) == 0) {
    if (PyObject* ran = PyRun_String(glue_source, Py_file_input, globals, globals)) {
      Py_DECREF(ran);
      return globals;
    }
  }
  Py_DECREF(globals);
  return nullptr;
}

// This interpreter's glue function `name` (borrowed), loading the glue the
// first time; null with an exception set when that failed.
inline PyObject* glue_function(module_state& module, const char* name) {
  if (!module.asgi_glue && !(module.asgi_glue = load_glue())) return nullptr;
  PyObject* function = PyDict_GetItemString(module.asgi_glue, name);
  if (!function) PyErr_Format(PyExc_RuntimeError, "fastrt: the ASGI glue has no %s", name);
  return function;
}

// This interpreter's Channel class (borrowed), with module.asgi_begin set;
// null with an exception set when the glue did not load.
inline PyObject* channel_class(module_state& module) {
  if (module.asgi_channel) return module.asgi_channel;
  PyObject* channel = glue_function(module, "Channel");
  PyObject* begin = channel ? PyUnicode_InternFromString("begin") : nullptr;
  if (!begin) return nullptr;
  module.asgi_begin = begin;
  module.asgi_channel = Py_NewRef(channel);
  return channel;
}

}  // namespace fastrt::http2::python::asgi
