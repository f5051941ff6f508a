// fastrt/python/handler_registry.hpp — handlers by name: "module:function"
// (the function may be dotted, "module:Class.method") to a handle, and per
// interpreter the callable that handle stands for there.
//
//   auto spec = handler_spec::parse("app.views:index");      // or an error
//   PyObject* fn = detail::import_handler(*spec, where);      // in an interpreter, GIL held
//   table.replace(h, fn);  ...  table.find(h)                 // per interpreter
//   registry.reserve(name) -> commit(h) or release(h); registry.find(name)
//
// A handle (handler) is an index below max_handlers, the same in every
// interpreter; handler_registry hands them out by name and frees the handle
// of a name whose first load failed. handler_table holds one interpreter's
// callables (strong references), read by calls on any of its workers while a
// load may replace one.
//
// Thread-safety: handler_spec::parse anywhere. handler_registry: any thread
// (one mutex); hold serialize_loads() across reserve..commit/release so that
// loads do not interleave. handler_table::find from any thread attached to
// its interpreter; replace/clear with its GIL held. import_handler with the
// GIL of the interpreter it imports into. Cost: find is one acquire load;
// the rest is the load path (imports: milliseconds).
#pragma once

#include <Python.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "../error.hpp"
#include "../result.hpp"
#include "exception.hpp"

namespace fastrt::python {

// A loaded handler, usable on every worker whose interpreter loaded it.
struct handler {
  std::uint32_t index = 0;
};

inline constexpr std::size_t max_handlers = 64;

// "module:attribute", split.
struct handler_spec {
  std::string module;
  std::string attribute;  // may be dotted: Class.method
  std::string text;       // as given

  static result<handler_spec> parse(std::string_view spec) {
    const auto colon = spec.find(':');
    if (colon == std::string_view::npos || colon == 0 || colon + 1 == spec.size()) {
      std::string text = "handler '";
      (text += spec) += "' is not of the form 'module:function'";
      return error(std::errc::invalid_argument, text);
    }
    return handler_spec{std::string(spec.substr(0, colon)), std::string(spec.substr(colon + 1)), std::string(spec)};
  }
};

// Names to handles.
class handler_registry {
 public:
  struct reservation {
    handler h;
    bool fresh = false;  // registered by this call: release(h) if its load fails
  };

  [[nodiscard]] std::unique_lock<std::mutex> serialize_loads() { return std::unique_lock(serial_); }

  // The handle of `name`, registering it (not yet found by find()) when new.
  result<reservation> reserve(std::string_view name) {
    std::lock_guard lock(mutex_);
    reservation r;
    auto it = std::find_if(entries_.begin(), entries_.end(), [&](const entry& e) { return e.name == name; });
    if (it == entries_.end()) {
      it = std::find_if(entries_.begin(), entries_.end(), [](const entry& e) { return e.name.empty(); });  // freed
      if (it == entries_.end()) {
        if (entries_.size() == max_handlers) return error(std::errc::too_many_files_open, "too many handlers (max_handlers)");
        entries_.emplace_back();
        it = entries_.end() - 1;
      }
      it->name = std::string(name);
      it->ready = false;
      r.fresh = true;
    }
    r.h.index = static_cast<std::uint32_t>(it - entries_.begin());
    return r;
  }

  // Loaded: find() now finds it.
  void commit(handler h) {
    std::lock_guard lock(mutex_);
    entries_[h.index].ready = true;
  }

  // A fresh reservation whose load failed: the handle is free again.
  void release(handler h) {
    std::lock_guard lock(mutex_);
    entries_[h.index] = entry{};
  }

  result<handler> find(std::string_view name) const {
    std::lock_guard lock(mutex_);
    auto it = std::find_if(entries_.begin(), entries_.end(), [&](const entry& e) { return e.ready && e.name == name; });
    if (it == entries_.end()) {
      std::string text = "handler '";
      (text += name) += "' was not loaded";
      return error(std::errc::invalid_argument, text);
    }
    return handler{static_cast<std::uint32_t>(it - entries_.begin())};
  }

 private:
  struct entry {
    std::string name;    // empty: a free handle
    bool ready = false;  // loaded; find() finds only these
  };
  std::mutex serial_;         // one load at a time
  mutable std::mutex mutex_;  // entries_
  std::vector<entry> entries_;
};

namespace detail {

// One interpreter's callables, by handle.
class handler_table {
 public:
  handler_table() = default;
  handler_table(const handler_table&) = delete;
  handler_table& operator=(const handler_table&) = delete;

  // Borrowed; null when not loaded here.
  PyObject* find(handler h) const noexcept {
    return h.index < max_handlers ? slots_[h.index].load(std::memory_order_acquire) : nullptr;
  }
  // Takes `object` (a new reference, or null to drop) and drops the old one. GIL held.
  void replace(handler h, PyObject* object) noexcept {
    Py_XDECREF(slots_[h.index].exchange(object, std::memory_order_acq_rel));
  }
  // Drops every reference. GIL held.
  void clear() noexcept {
    for (auto& slot : slots_) Py_XDECREF(slot.exchange(nullptr, std::memory_order_acq_rel));
  }

 private:
  std::array<std::atomic<PyObject*>, max_handlers> slots_{};
};

// Imports spec.module in the current interpreter and walks spec.attribute:
// a new reference to a callable, or the Python error text (prefixed with
// `where`). A module refusing subinterpreters gets a hint to load the
// handler on main workers.
inline result<PyObject*> import_handler(const handler_spec& spec, const std::string& where) {
  PyObject* object = PyImport_ImportModule(spec.module.c_str());
  if (!object) {
    error failure = take_exception(where);
    if (failure.message().find("does not support loading in subinterpreters") == std::string_view::npos) return failure;
    std::string text(failure.message());
    text += "hint: a module it imports refuses subinterpreters; load '" + spec.text +
            "' on main workers instead (executor_options::main_handlers, submit_to(worker_kind::main, ...))\n";
    return error(failure.code(), text);
  }
  const std::string& attribute = spec.attribute;
  std::size_t begin = 0;
  while (begin <= attribute.size()) {
    const std::size_t dot = std::min(attribute.find('.', begin), attribute.size());
    const std::string part = attribute.substr(begin, dot - begin);
    PyObject* next = PyObject_GetAttrString(object, part.c_str());
    Py_DECREF(object);
    if (!next) return take_exception(where);
    object = next;
    begin = dot + 1;
  }
  if (!PyCallable_Check(object)) {
    Py_DECREF(object);
    return error(std::errc::invalid_argument, where + ": '" + attribute + "' is not callable");
  }
  return object;
}

}  // namespace detail
}  // namespace fastrt::python
