# fastrt_nghttp2_features(<nghttp2 target> <out var>): the compile
# definitions fastrt::http2's headers need for the libnghttp2 behind
# <nghttp2 target> (an imported target, e.g. PkgConfig::NGHTTP2):
#   FASTRT_HAVE_NGHTTP2_RESET_RATE_LIMIT=1   nghttp2_option_set_stream_reset_rate_limit
#                                            (Rapid Reset, CVE-2023-44487; nghttp2 1.57)
#   FASTRT_HAVE_NGHTTP2_MAX_CONTINUATIONS=1  nghttp2_option_set_max_continuations
#                                            (CONTINUATION flood; nghttp2 1.61)
# Detected by symbol, not by version: Debian backports both to 1.52.
# Used twice: by fastrt's own build (fastrt_http2's INTERFACE definitions,
# recorded in fastrt-http2.pc) and by the installed fastrtConfig.cmake, which
# installs this file beside itself and asks the libnghttp2 it finds on the
# consumer's machine, the one the consumer compiles against.
include_guard(GLOBAL)
include(CheckCXXSymbolExists)
include(CMakePushCheckState)

function(fastrt_nghttp2_features nghttp2_target out_var)
  # Triples: the nghttp2 function, the definition that says it is there,
  # what a connection goes without when it is not.
  set(features
      nghttp2_option_set_stream_reset_rate_limit FASTRT_HAVE_NGHTTP2_RESET_RATE_LIMIT
      "the Rapid Reset limit (CVE-2023-44487)"
      nghttp2_option_set_max_continuations FASTRT_HAVE_NGHTTP2_MAX_CONTINUATIONS
      "the CONTINUATION flood limit")
  set(definitions "")
  cmake_push_check_state(RESET)
  set(CMAKE_REQUIRED_LIBRARIES ${nghttp2_target})
  set(CMAKE_REQUIRED_QUIET ON)
  while(features)
    list(POP_FRONT features symbol definition limit)
    # The result is cached under the definition's name (one try_compile per build tree).
    check_cxx_symbol_exists(${symbol} nghttp2/nghttp2.h ${definition})
    if(${definition})
      list(APPEND definitions ${definition}=1)
    else()
      message(STATUS "fastrt: libnghttp2 has no ${symbol}: fastrt::http2 connections go without ${limit}")
    endif()
  endwhile()
  cmake_pop_check_state()
  set(${out_var} ${definitions} PARENT_SCOPE)
endfunction()
