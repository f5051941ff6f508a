// http2_names.hpp — the fastrt::http2 names fastrt-h2's own code uses
// unqualified (it lives in namespace fastrt_h2), declared once here so the
// rest of the example needs no qualification and no using-directive.
#pragma once

#include <fastrt/http2/body_budget.hpp>
#include <fastrt/http2/connection_deadlines.hpp>
#include <fastrt/http2/field_rules.hpp>
#include <fastrt/http2/http1_head.hpp>
#include <fastrt/http2/request.hpp>
#include <fastrt/http2/response.hpp>
#include <fastrt/http2/response_rules.hpp>
#include <fastrt/http2/server_config.hpp>
#include <fastrt/http2/stream_reset_limit.hpp>

namespace fastrt_h2 {

namespace fields = fastrt::http2::fields;
namespace http1 = fastrt::http2::http1;
using fastrt::http2::add_field;
using fastrt::http2::body_stream;
using fastrt::http2::check_response;
using fastrt::http2::connection_body_budget;
using fastrt::http2::connection_deadlines;
using fastrt::http2::header_list;
using fastrt::http2::max_response_header_bytes;
using fastrt::http2::request;
using fastrt::http2::response;
using fastrt::http2::response_verdict;
using fastrt::http2::server_body_budget;
using fastrt::http2::server_config;
using fastrt::http2::stream_reset_limit;
using fastrt::http2::text_response;
using fastrt::http2::unknown_length;
using std::chrono::milliseconds;

}  // namespace fastrt_h2
