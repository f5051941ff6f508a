// request.hpp — the plain-data request and response fastrt-h2 passes to
// handlers (C++ on the io thread, Python on the executor's workers).
#pragma once

#include <string>
#include <utility>
#include <vector>

namespace fastrt_h2 {

using header_list = std::vector<std::pair<std::string, std::string>>;

struct request {
  std::string method;
  std::string path;   // without the query
  std::string query;  // after '?', empty when there is none
  std::string authority;
  header_list headers;  // regular fields, in order; names lower-case
  std::string body;
};

struct response {
  int status = 200;
  header_list headers;
  std::string body;
};

inline response text_response(int status, std::string body) {
  return response{status, {{"content-type", "text/plain; charset=utf-8"}}, std::move(body)};
}

}  // namespace fastrt_h2
