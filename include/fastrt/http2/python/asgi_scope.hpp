// asgi_scope.hpp — the ASGI 3.0 HTTP connection scope of a request (the
// dict an ASGI app gets as `scope`), as uvicorn and hypercorn build it for
// HTTP/2:
//
//   type 'http', asgi {'version': '3.0', 'spec_version': '2.3'},
//   http_version '2', '1.1' or '1.0' (the request's), method, scheme   str
//   path                                    percent-decoded, then UTF-8
//                                           (undecodable octets: U+FFFD)
//   raw_path, query_string                  bytes, as sent (no '?')
//   root_path ''
//   headers                                 [(name, value)] bytes, in arrival
//                                           order, names lower-case; the
//                                           :authority as 'host' when the
//                                           client sent no host field
//   client, server                          (host, port), or None when the
//                                           connection has no address
//   extensions {}
//
// 'state' (the lifespan state, copied) is added by the channel
// (asgi_glue.hpp), which knows the worker's lifespan.
//
// The keys, the constant entries ('type', 'root_path') and the 'asgi' dict
// are made once per interpreter (module_state) and copied into each scope:
// an app may mutate its scope, so no dict is shared.
//
// Thread-safety: with the GIL of the app's interpreter. Cost per request:
// three dicts (two of them copies), a bytes object per header name and value.
#pragma once

#include <Python.h>

#include <cstdint>
#include <iterator>
#include <string>
#include <string_view>

#include <fastrt/http2/python/wsgi_environ.hpp>
#include <fastrt/http2/request.hpp>

namespace fastrt::http2::python::asgi {

inline PyObject* bytes_of(std::string_view s) {
  return PyBytes_FromStringAndSize(s.data(), static_cast<Py_ssize_t>(s.size()));
}

// (host, port), or None for an unknown endpoint.
inline PyObject* endpoint_of(const endpoint& e) {
  if (e.host.empty()) return Py_NewRef(Py_None);
  return Py_BuildValue("(Ni)", PyUnicode_FromStringAndSize(e.host.data(), static_cast<Py_ssize_t>(e.host.size())),
                       static_cast<int>(e.port));
}

inline PyObject* headers_of(const request& req) {
  bool has_host = false;
  for (const auto& field : req.headers) has_host = has_host || field.first == "host";
  const bool add_host = !has_host && !req.authority.empty();
  PyObject* list = PyList_New(static_cast<Py_ssize_t>(req.headers.size() + (add_host ? 1 : 0)));
  if (!list) return nullptr;
  Py_ssize_t i = 0;
  auto set = [&](std::string_view name, std::string_view value) {
    PyObject* pair = Py_BuildValue("(NN)", bytes_of(name), bytes_of(value));  // N: steals, also on failure
    if (!pair) return false;
    PyList_SET_ITEM(list, i++, pair);  // steals
    return true;
  };
  if (add_host && !set("host", req.authority)) {
    Py_DECREF(list);
    return nullptr;
  }
  for (const auto& [name, value] : req.headers) {
    if (!set(name, value)) {
      Py_DECREF(list);
      return nullptr;
    }
  }
  return list;
}

// The keys whose value varies per request, by index into
// module_state::asgi_scope_keys.
enum class scope_key : std::uint8_t {
  asgi, http_version, method, scheme, path, raw_path, query_string, headers, client, server, extensions, count
};
inline constexpr const char* scope_key_names[] = {"asgi",     "http_version", "method",  "scheme",
                                                  "path",     "raw_path",     "query_string", "headers",
                                                  "client",   "server",       "extensions"};
static_assert(std::size(scope_key_names) == static_cast<std::size_t>(scope_key::count));

// With the GIL, once per interpreter: the keys, the constant entries and
// the 'asgi' dict of `st`. False with an exception set.
inline bool make_scope_constants(module_state& st) {
  PyObject* keys = wsgi::interned_tuple(scope_key_names);
  if (!keys) return false;
  PyObject* constants = PyDict_New();
  PyObject* versions = Py_BuildValue("{s:s,s:s}", "version", "3.0", "spec_version", "2.3");
  using wsgi::put;
  if (!constants || !versions || !put(constants, "type", PyUnicode_FromString("http")) ||
      !put(constants, "root_path", PyUnicode_FromString(""))) {
    Py_DECREF(keys);
    Py_XDECREF(constants);
    Py_XDECREF(versions);
    return false;
  }
  st.asgi_scope_keys = keys;
  st.asgi_scope_constants = constants;
  st.asgi_versions = versions;
  return true;
}

// scope[key] = value (a new reference, taken over); false with an
// exception set when value is null or the dict refuses.
inline bool put(PyObject* scope, const module_state& st, scope_key key, PyObject* value) {
  if (!value) return false;
  const int rv = PyDict_SetItem(scope, PyTuple_GET_ITEM(st.asgi_scope_keys, static_cast<Py_ssize_t>(key)), value);
  Py_DECREF(value);
  return rv == 0;
}

// The scope of `req` (a new dict), or null with an exception set. `st`:
// this interpreter's fastrt module state.
inline PyObject* new_scope(module_state& st, const request& req) {
  if (!st.asgi_scope_keys && !make_scope_constants(st)) return nullptr;
  PyObject* scope = PyDict_Copy(st.asgi_scope_constants);
  if (!scope) return nullptr;
  const std::string path = wsgi::percent_decoded(req.path);
  using k = scope_key;
  const bool ok =
      put(scope, st, k::asgi, PyDict_Copy(st.asgi_versions)) &&
      put(scope, st, k::http_version, latin1(version_text(req.http_version))) &&
      put(scope, st, k::method, latin1(req.method)) &&
      put(scope, st, k::scheme, PyUnicode_FromStringAndSize(req.scheme.data(), static_cast<Py_ssize_t>(req.scheme.size()))) &&
      put(scope, st, k::path, PyUnicode_DecodeUTF8(path.data(), static_cast<Py_ssize_t>(path.size()), "replace")) &&
      put(scope, st, k::raw_path, bytes_of(req.path)) && put(scope, st, k::query_string, bytes_of(req.query)) &&
      put(scope, st, k::headers, headers_of(req)) && put(scope, st, k::client, endpoint_of(req.client)) &&
      put(scope, st, k::server, endpoint_of(req.server)) && put(scope, st, k::extensions, PyDict_New());
  if (!ok) {
    Py_DECREF(scope);
    return nullptr;
  }
  return scope;
}

}  // namespace fastrt::http2::python::asgi
