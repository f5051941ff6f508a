// app_interface.hpp — how an app is called (fastrt-h2's --interface), and
// telling it from the callable at start-up:
//
//   native   def app(request), async def app(request)   (app.hpp; async: the worker's event loop)
//   wsgi     def app(environ, start_response)           (wsgi.hpp; Flask, ...)
//   asgi     async def app(scope, receive, send)        (asgi.hpp; ASGI 3.0: Starlette, Quart, ...)
//
// detect_interface(app, wanted) runs once, on a worker with the GIL held,
// and looks at the callable with inspect (the source below), as uvicorn
// does: an async callable (a coroutine function, or an object whose
// __call__ is one) taking three parameters is ASGI 3; a class whose
// instances are async callables is ASGI 2 (the double callable), which is
// not supported: a clear error at start-up rather than a 500 per request.
// Otherwise the number of required positional parameters decides (2: wsgi,
// 1: native, async or not). With `wanted` set the callable
// must fit it; a callable inspect cannot read (a builtin) is taken at its
// word then, and is an error with auto (name the interface).
//
// Thread-safety: with the GIL of the interpreter that loaded the app. Cost:
// start-up only (inspect is imported there).
#pragma once

#include <Python.h>

#include <fastrt/python/exception.hpp>
#include <fastrt/result.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace fastrt::http2::python {

enum class app_interface : std::uint8_t { native, wsgi, asgi };

inline constexpr std::string_view name_of(app_interface i) noexcept {
  switch (i) {
    case app_interface::wsgi: return "wsgi";
    case app_interface::asgi: return "asgi";
    case app_interface::native: break;
  }
  return "native";
}

// "auto" → nullopt; "native", "wsgi", "asgi"; anything else: an error naming the choices.
inline fastrt::result<std::optional<app_interface>> parse_interface(std::string_view text) {
  if (text == "auto") return std::optional<app_interface>();
  for (const app_interface i : {app_interface::native, app_interface::wsgi, app_interface::asgi}) {
    if (text == name_of(i)) return std::optional<app_interface>(i);
  }
  return fastrt::error(std::errc::invalid_argument,
                       "the interface is auto, native, wsgi or asgi, not '" + std::string(text) + "'");
}

namespace detail {

// Returns "native", "wsgi", "asgi", "asgi2", "async-native" or "unknown: why".
inline constexpr const char* shape_source = R"PY(
def shape_of(app):
    import inspect
    if inspect.isclass(app) and inspect.iscoroutinefunction(getattr(app, "__call__", None)):
        return "asgi2"
    call = getattr(app, "__call__", None)
    is_async = inspect.iscoroutinefunction(app) or (
        not inspect.isroutine(app) and call is not None and inspect.iscoroutinefunction(call))
    try:
        parameters = list(inspect.signature(app).parameters.values())
    except (TypeError, ValueError) as e:
        return "unknown: inspect cannot read its signature (%s)" % e
    positional = [p for p in parameters if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    required = [p for p in positional if p.default is p.empty]
    count = len(required) if required else len(positional)
    if is_async:
        return "asgi" if count == 3 else "async-native"
    if count == 2:
        return "wsgi"
    if count == 1:
        return "native"
    return "unknown: it takes %d positional parameter(s)" % count
)PY";

// shape_of(app) as text; an error when the helper itself failed.
inline fastrt::result<std::string> shape_of(PyObject* app) {
  PyObject* globals = PyDict_New();
  if (!globals) return fastrt::python::take_exception();
  std::string shape;
  bool ok = PyDict_SetItemString(globals, "__builtins__", PyEval_GetBuiltins()) == 0;
  PyObject* ran = ok ? PyRun_String(shape_source, Py_file_input, globals, globals) : nullptr;
  PyObject* function = ran ? PyDict_GetItemString(globals, "shape_of") : nullptr;  // borrowed
  PyObject* out = function ? PyObject_CallOneArg(function, app) : nullptr;
  Py_XDECREF(ran);
  Py_DECREF(globals);
  if (!out || !PyUnicode_Check(out)) {
    Py_XDECREF(out);
    return fastrt::python::take_exception("inspecting the app");
  }
  shape = PyUnicode_AsUTF8(out);
  Py_DECREF(out);
  return shape;
}

}  // namespace detail

// The interface to call `app` with (see the top of this file); `wanted`:
// the explicit choice, or nullopt for auto. Errors say what the app looks
// like and what to do.
inline fastrt::result<app_interface> detect_interface(PyObject* app, std::optional<app_interface> wanted) {
  const std::string shape = FASTRT_TRY(detail::shape_of(app));
  if (shape == "asgi2")
    return fastrt::error(std::errc::operation_not_supported,
                         "the app looks like an ASGI 2 app (a class whose instances are async callables): only ASGI 3 "
                         "(async def app(scope, receive, send)) is supported");
  if (shape.starts_with("unknown")) {
    if (wanted) return *wanted;
    return fastrt::error(std::errc::invalid_argument,
                         "cannot tell the app's interface: " + shape.substr(9) +
                             "; give --interface native (app(request)), wsgi (app(environ, start_response)) or asgi "
                             "(app(scope, receive, send))");
  }
  // `async def app(request)` is native too: the worker's event loop awaits it.
  const app_interface seen = shape == "wsgi"   ? app_interface::wsgi
                             : shape == "asgi" ? app_interface::asgi
                                               : app_interface::native;
  if (wanted && *wanted != seen) {
    const char* what = seen == app_interface::wsgi   ? "(environ, start_response), a WSGI app"
                       : seen == app_interface::asgi ? "(scope, receive, send) and is async, an ASGI app"
                                                     : "one parameter, a native app(request)";
    return fastrt::error(std::errc::invalid_argument,
                         std::string("--interface ") + std::string(name_of(*wanted)) + " does not fit the app: it takes " + what);
  }
  return seen;
}

}  // namespace fastrt::http2::python
