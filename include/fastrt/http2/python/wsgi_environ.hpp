// wsgi_environ.hpp — the PEP 3333 environ dict of a request, for a WSGI
// app (wsgi.hpp).
//
//   REQUEST_METHOD, QUERY_STRING   as sent (latin-1 str: one code point per octet)
//   SCRIPT_NAME                    "" (the app is mounted at the root)
//   PATH_INFO                      the path percent-decoded, then latin-1 (PEP 3333)
//   CONTENT_TYPE                   the content-type field, when there is one
//   CONTENT_LENGTH                 the content-length field, else the body's
//                                  length when there is a (whole) body
//   SERVER_NAME, SERVER_PORT       the server's address and port as the
//                                  connection knows them; without an
//                                  address, from :authority
//   SERVER_PROTOCOL                "HTTP/2", "HTTP/1.1" or "HTTP/1.0" (the request's)
//   REMOTE_ADDR, REMOTE_PORT       the client's, when known
//   HTTP_*                         every other field: repeats comma-joined
//                                  (cookie crumbs are already one field, "; ");
//                                  HTTP_HOST is :authority when no host field
//                                  came. A field whose name has '_' is
//                                  dropped (as gunicorn and nginx do: it
//                                  would be indistinguishable from '-')
//   wsgi.version (1, 0), wsgi.url_scheme, wsgi.errors (sys.stderr),
//   wsgi.multithread True, wsgi.multiprocess False, wsgi.run_once False
//   wsgi.input                     a streamed body (the route streams it:
//                                  fastrt-h2's WSGI apps) is read as it
//                                  arrives, blocking, under flow control
//                                  (body_input.hpp); a whole body is an
//                                  io.BytesIO over it; either way
//   wsgi.input_terminated          True: reading to EOF is safe
//
// What is the same for every request is made once per interpreter, when the
// fastrt module is imported (make_environ_constants, kept in module_state):
// the keys as interned str, and a dict of the constant entries (SCRIPT_NAME,
// SERVER_PROTOCOL "HTTP/2", wsgi.version, the wsgi.* flags) that each
// environ starts as a copy of. So an HTTP/2 request pays no key string, no
// version tuple, no "HTTP/2" str (an HTTP/1.x one replaces SERVER_PROTOCOL).
//
// Thread-safety: with the GIL of the app's interpreter. Cost per request:
// one dict copied from the constants, one str per varying value and per
// HTTP_* key, the body copied once into bytes.
#pragma once

#include <Python.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <fastrt/http2/python/common.hpp>
#include <fastrt/http2/python/request_object.hpp>
#include <fastrt/http2/request.hpp>

namespace fastrt::http2::python::wsgi {

inline int hex_value(char c) noexcept {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// %XX decoded; a '%' not followed by two hex digits stays as it is.
inline std::string percent_decoded(std::string_view path) {
  std::string out;
  out.reserve(path.size());
  for (std::size_t i = 0; i < path.size(); ++i) {
    if (path[i] == '%' && i + 2 < path.size()) {
      const int high = hex_value(path[i + 1]), low = hex_value(path[i + 2]);
      if (high >= 0 && low >= 0) {
        out += static_cast<char>(high * 16 + low);
        i += 2;
        continue;
      }
    }
    out += path[i];
  }
  return out;
}

// "x-forwarded-for" → "HTTP_X_FORWARDED_FOR"; false for a name with '_'.
inline bool cgi_name(std::string_view field, std::string& out) {
  out = "HTTP_";
  for (char c : field) {
    if (c == '_') return false;
    if (c == '-') c = '_';
    else if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
    out += c;
  }
  return true;
}

// Sets environ[key] = value (a new reference, taken over); false with an
// exception set when value is null or the dict refuses.
inline bool put(PyObject* environ, const char* key, PyObject* value) {
  if (!value) return false;
  const int rv = PyDict_SetItemString(environ, key, value);
  Py_DECREF(value);
  return rv == 0;
}

// The keys whose value varies per request, by index into
// module_state::wsgi_keys (the order of environ_key_names).
enum class environ_key : std::uint8_t {
  wsgi_input, request_method, path_info, query_string, content_type, content_length, server_name, server_port,
  remote_addr, remote_port, url_scheme, errors, http_host, count
};
inline constexpr const char* environ_key_names[] = {
    "wsgi.input",  "REQUEST_METHOD", "PATH_INFO",   "QUERY_STRING",    "CONTENT_TYPE", "CONTENT_LENGTH", "SERVER_NAME",
    "SERVER_PORT", "REMOTE_ADDR",    "REMOTE_PORT", "wsgi.url_scheme", "wsgi.errors",  "HTTP_HOST"};
static_assert(std::size(environ_key_names) == static_cast<std::size_t>(environ_key::count));

// A tuple of `names` as interned str (a new reference), or null with an
// exception set: a dict's keys, made once per interpreter.
template <std::size_t N>
inline PyObject* interned_tuple(const char* const (&names)[N]) {
  PyObject* tuple = PyTuple_New(static_cast<Py_ssize_t>(N));
  if (!tuple) return nullptr;
  for (std::size_t i = 0; i < N; ++i) {
    PyObject* name = PyUnicode_InternFromString(names[i]);
    if (!name) {
      Py_DECREF(tuple);
      return nullptr;
    }
    PyTuple_SET_ITEM(tuple, static_cast<Py_ssize_t>(i), name);  // steals
  }
  return tuple;
}

// With the GIL, once per interpreter (module_exec): `st.wsgi_keys` and
// `st.wsgi_constants` (see the top). False with an exception set.
inline bool make_environ_constants(module_state& st) {
  PyObject* keys = interned_tuple(environ_key_names);
  if (!keys) return false;
  PyObject* constants = PyDict_New();
  const bool ok = constants && put(constants, "SCRIPT_NAME", PyUnicode_FromString("")) &&
                  put(constants, "SERVER_PROTOCOL", PyUnicode_FromString("HTTP/2")) &&
                  put(constants, "wsgi.version", Py_BuildValue("(ii)", 1, 0)) &&
                  put(constants, "wsgi.multithread", Py_NewRef(Py_True)) &&
                  put(constants, "wsgi.multiprocess", Py_NewRef(Py_False)) &&
                  put(constants, "wsgi.run_once", Py_NewRef(Py_False)) &&
                  put(constants, "wsgi.input_terminated", Py_NewRef(Py_True));
  if (!ok) {
    Py_DECREF(keys);
    Py_XDECREF(constants);
    return false;
  }
  st.wsgi_keys = keys;
  st.wsgi_constants = constants;
  return true;
}

// environ[key] = value (a new reference, taken over) with an interned key
// of `st`; false with an exception set when value is null or the dict refuses.
inline bool put(PyObject* environ, const module_state& st, environ_key key, PyObject* value) {
  if (!value) return false;
  const int rv = PyDict_SetItem(environ, PyTuple_GET_ITEM(st.wsgi_keys, static_cast<Py_ssize_t>(key)), value);
  Py_DECREF(value);
  return rv == 0;
}

// host and port of an authority ("example.com:8443", "[::1]:80").
inline std::pair<std::string_view, std::string_view> split_authority(std::string_view authority) {
  const auto colon = authority.rfind(':');
  const auto bracket = authority.rfind(']');
  if (colon == std::string_view::npos || (bracket != std::string_view::npos && colon < bracket)) return {authority, "80"};
  return {authority.substr(0, colon), authority.substr(colon + 1)};
}

// The environ of `req` (a new dict), or null with an exception set.
// `st`: this interpreter's fastrt module state (io.BytesIO, the keys and
// constants). `streamed_input`: the body read as it arrives (a new
// reference, taken over), or null for a whole body.
inline PyObject* new_environ(const request& req, const module_state& st, PyObject* streamed_input = nullptr) {
  PyObject* environ = PyDict_Copy(st.wsgi_constants);
  if (!environ) {
    Py_XDECREF(streamed_input);
    return nullptr;
  }
  auto fail = [&] {
    Py_DECREF(environ);
    return nullptr;
  };
  // The HTTP_* fields, repeats joined, before they become str.
  std::vector<std::pair<std::string, std::string>> cgi;
  cgi.reserve(req.headers.size());
  bool has_host = false;
  const std::string* content_type = nullptr;
  const std::string* content_length = nullptr;
  std::string key;
  for (const auto& [name, value] : req.headers) {
    if (name == "content-type") {
      content_type = &value;
      continue;
    }
    if (name == "content-length") {
      content_length = &value;
      continue;
    }
    if (!cgi_name(name, key)) continue;
    has_host = has_host || name == "host";
    auto same = std::find_if(cgi.begin(), cgi.end(), [&](const auto& kv) { return kv.first == key; });
    if (same == cgi.end()) cgi.emplace_back(key, value);
    else (same->second += ",") += value;
  }

  std::string server_name = req.server.host, server_port = std::to_string(req.server.port);
  if (server_name.empty()) {
    const auto [host, port] = split_authority(req.authority);
    server_name = host.empty() ? std::string_view("localhost") : host;
    server_port = port;
  }
  PyObject* input = streamed_input;
  if (!input) {
    PyObject* body = PyBytes_FromStringAndSize(req.body.data(), static_cast<Py_ssize_t>(req.body.size()));
    input = body ? PyObject_CallOneArg(st.bytes_io, body) : nullptr;
    Py_XDECREF(body);
  }
  PyObject* errors = PySys_GetObject("stderr");  // borrowed; may be None in an embedded interpreter
  using k = environ_key;
  const bool ok =
      put(environ, st, k::wsgi_input, input) &&  // first: it is consumed whatever follows
      put(environ, st, k::request_method, latin1(req.method)) &&
      put(environ, st, k::path_info, latin1(percent_decoded(req.path))) &&
      put(environ, st, k::query_string, latin1(req.query)) &&
      (!content_type || put(environ, st, k::content_type, latin1(*content_type))) &&
      (content_length ? put(environ, st, k::content_length, latin1(*content_length))
                      : req.body.empty() ||
                            put(environ, st, k::content_length, latin1(std::to_string(req.body.size())))) &&
      put(environ, st, k::server_name, latin1(server_name)) &&
      put(environ, st, k::server_port, latin1(server_port)) &&
      // The constants say HTTP/2; an HTTP/1.x request says its own.
      (req.http_version == protocol_version::http2 ||
       put(environ, "SERVER_PROTOCOL", latin1("HTTP/" + std::string(version_text(req.http_version))))) &&
      (req.client.host.empty() || (put(environ, st, k::remote_addr, latin1(req.client.host)) &&
                                   put(environ, st, k::remote_port, latin1(std::to_string(req.client.port))))) &&
      put(environ, st, k::url_scheme, latin1(req.scheme)) &&
      put(environ, st, k::errors, Py_NewRef(errors ? errors : Py_None)) &&
      (has_host || req.authority.empty() || put(environ, st, k::http_host, latin1(req.authority)));
  if (!ok) return fail();
  for (const auto& [name, value] : cgi)
    if (!put(environ, name.c_str(), latin1(value))) return fail();
  return environ;
}

}  // namespace fastrt::http2::python::wsgi
