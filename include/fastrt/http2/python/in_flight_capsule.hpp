// in_flight_capsule.hpp — an in_flight_calls entry (in_flight_calls.hpp)
// owned by a Python object, for a call that outlives the job that started
// it: an ASGI app's Task, an `async def app`'s coroutine. The object lives
// as long as the call (the ASGI channel drops it when the app's Task is
// done; a native coroutine is wrapped so that its frame holds it), so a
// shutdown that times out names the async calls still running, including
// one that ignores its cancellation.
//
//   PyObject* listed = new_in_flight_capsule(app.in_flight(), req, ctx);  // listed until freed
//
// Thread-safety: made and freed on the call's worker, with its GIL (the
// entry's own lock covers the list). Cost per call: one allocation holding
// copies of the method and path, one capsule.
#pragma once

#include <Python.h>

#include <fastrt/python/subinterpreter_executor.hpp>

#include <string>

#include <fastrt/http2/python/in_flight_calls.hpp>
#include <fastrt/http2/request.hpp>

namespace fastrt::http2::python {

namespace detail {

// The entry borrows the strings held beside it (declared first: they
// outlive it).
struct held_entry {
  held_entry(in_flight_calls* calls, const request& req, const fastrt::python::call_context& ctx)
      : method(req.method), path(req.path), entry(calls, method, path, ctx.kind(), ctx.worker_index()) {}
  std::string method;
  std::string path;
  in_flight_calls::entry entry;
};

inline constexpr const char* held_entry_name = "fastrt.in_flight_entry";

extern "C" inline void free_held_entry(PyObject* capsule) {
  delete static_cast<held_entry*>(PyCapsule_GetPointer(capsule, held_entry_name));
}

}  // namespace detail

// A capsule listing the call of `req` in `calls` until it is freed (a new
// reference), None when there is no registry, or null with an exception set.
inline PyObject* new_in_flight_capsule(in_flight_calls* calls, const request& req,
                                       const fastrt::python::call_context& ctx) {
  if (!calls) return Py_NewRef(Py_None);
  auto* held = new detail::held_entry(calls, req, ctx);
  PyObject* capsule = PyCapsule_New(held, detail::held_entry_name, &detail::free_held_entry);
  if (!capsule) delete held;
  return capsule;
}

}  // namespace fastrt::http2::python
