// wsgi_body.hpp — what a WSGI app's iterable becomes once its first
// non-empty piece has come (wsgi.hpp): a generator, made per interpreter
// from the Python source below, that yields that piece, then the rest of the
// iterable, and ALWAYS calls the iterable's close() (PEP 3333) in its
// `finally` — at the end, when a piece raises, and when the server drops the
// stream early (a client reset, --handler-timeout, a cut connection: the
// streamed body releases the generator on its worker, streamed_body.hpp,
// and closing a suspended generator runs its `finally`). Pieces must be
// bytes (PEP 3333); anything else raises TypeError, which resets the stream.
//
// Why Python source: a generator's `try/finally` is exactly the "close on
// every path, in the app's interpreter" rule; written in C++ it would be a
// new iterator type with the same logic and more ways to get it wrong.
//
// Thread-safety: load() runs in module_exec, with the interpreter's GIL.
// Cost: one generator per streamed response; a few bytecodes per piece.
#pragma once

#include <Python.h>

#include <fastrt/http2/python/common.hpp>

namespace fastrt::http2::python::wsgi {

inline constexpr const char* body_source = R"PY(
def wsgi_body(first, iterator, iterable):
    try:
        yield first
        for piece in iterator:
            if type(piece) is not bytes:
                raise TypeError("a WSGI body piece must be bytes, not " + type(piece).__name__)
            yield piece
    finally:
        close = getattr(iterable, "close", None)
        if close is not None:
            close()
)PY";

// This interpreter's wsgi_body function (a new reference), or null with an
// exception set.
inline PyObject* load_body_function() { return defined_by(body_source, "wsgi_body"); }

}  // namespace fastrt::http2::python::wsgi
