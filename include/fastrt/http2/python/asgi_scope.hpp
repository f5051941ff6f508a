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
// Thread-safety: with the GIL of the app's interpreter. Cost per request:
// one dict, a bytes object per header name and value.
#pragma once

#include <Python.h>

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

// The scope of `req` (a new dict), or null with an exception set.
inline PyObject* new_scope(const request& req) {
  PyObject* scope = PyDict_New();
  if (!scope) return nullptr;
  const std::string path = wsgi::percent_decoded(req.path);
  using wsgi::put;
  const bool ok =
      put(scope, "type", PyUnicode_FromString("http")) &&
      put(scope, "asgi", Py_BuildValue("{s:s,s:s}", "version", "3.0", "spec_version", "2.3")) &&
      put(scope, "http_version", latin1(version_text(req.http_version))) &&
      put(scope, "method", latin1(req.method)) &&
      put(scope, "scheme", PyUnicode_FromStringAndSize(req.scheme.data(), static_cast<Py_ssize_t>(req.scheme.size()))) &&
      put(scope, "path", PyUnicode_DecodeUTF8(path.data(), static_cast<Py_ssize_t>(path.size()), "replace")) &&
      put(scope, "raw_path", bytes_of(req.path)) && put(scope, "query_string", bytes_of(req.query)) &&
      put(scope, "root_path", PyUnicode_FromString("")) && put(scope, "headers", headers_of(req)) &&
      put(scope, "client", endpoint_of(req.client)) && put(scope, "server", endpoint_of(req.server)) &&
      put(scope, "extensions", PyDict_New());
  if (!ok) {
    Py_DECREF(scope);
    return nullptr;
  }
  return scope;
}

}  // namespace fastrt::http2::python::asgi
