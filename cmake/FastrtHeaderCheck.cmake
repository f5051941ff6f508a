# Every public header must compile on its own, with strict warnings and with
# neither exceptions nor RTTI. One generated translation unit per header.
function(fastrt_add_header_check)
  file(GLOB_RECURSE headers RELATIVE ${PROJECT_SOURCE_DIR}/include
       CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/include/fastrt/*.hpp)
  set(sources "")
  foreach(header IN LISTS headers)
    # Headers of the io layer need liburing; without it they are skipped.
    file(STRINGS ${PROJECT_SOURCE_DIR}/include/${header} needs_uring REGEX "#include <liburing.h>|io_context.hpp|io_awaiter.hpp")
    if(needs_uring AND NOT FASTRT_HAVE_URING)
      continue()
    endif()
    # Headers of the TLS layer need OpenSSL; without it they are skipped.
    file(STRINGS ${PROJECT_SOURCE_DIR}/include/${header} needs_tls REGEX "#include <openssl/|#include <fastrt/tls/")
    if(needs_tls AND NOT FASTRT_HAVE_TLS)
      continue()
    endif()
    # Headers of the python layer need CPython >= 3.12; without it they are skipped.
    if(header MATCHES "^fastrt/python/" AND NOT FASTRT_HAVE_PYTHON)
      continue()
    endif()
    # Headers of the http2 layer need libnghttp2; without it they are skipped.
    # They must not pull in CPython (fastrt::http2 is free of Python): the
    # check is built with fastrt::python's include path, so an include of
    # Python.h (directly or through fastrt/python/) would compile, and the
    # #error below catches it.
    # The Python bridge (fastrt/http2/python/) is the one exception: it joins
    # both layers, so it needs both and is allowed Python.h.
    set(extra "")
    if(header MATCHES "^fastrt/http2/python/")
      if(NOT FASTRT_HAVE_HTTP2 OR NOT FASTRT_HAVE_PYTHON)
        continue()
      endif()
    elseif(header MATCHES "^fastrt/http2/")
      if(NOT FASTRT_HAVE_HTTP2)
        continue()
      endif()
      set(extra "#ifdef Py_PYTHON_H\n#error \"<${header}> includes Python.h: fastrt::http2 must stay free of Python\"\n#endif\n")
    endif()
    string(MAKE_C_IDENTIFIER "${header}" id)
    set(source ${CMAKE_CURRENT_BINARY_DIR}/header_check/${id}.cpp)
    file(CONFIGURE OUTPUT ${source} CONTENT "#include <${header}>\n#include <${header}>  // include guard works\n${extra}")
    list(APPEND sources ${source})
  endforeach()
  # Generated headers live in the build tree (fastrt::core's build include
  # dir) and get the same check.
  foreach(header IN ITEMS fastrt/version.hpp)
    string(MAKE_C_IDENTIFIER "${header}" id)
    set(source ${CMAKE_CURRENT_BINARY_DIR}/header_check/${id}.cpp)
    file(CONFIGURE OUTPUT ${source} CONTENT "#include <${header}>\n#include <${header}>  // include guard works\n")
    list(APPEND sources ${source})
  endforeach()
  add_library(fastrt_header_check OBJECT ${sources})
  target_link_libraries(fastrt_header_check PRIVATE fastrt::core fastrt_warnings fastrt_no_exceptions)
  if(FASTRT_HAVE_URING)
    target_link_libraries(fastrt_header_check PRIVATE fastrt::uring)
  endif()
  if(FASTRT_HAVE_PYTHON)
    target_link_libraries(fastrt_header_check PRIVATE fastrt::python)
  endif()
  if(FASTRT_HAVE_HTTP2)
    target_link_libraries(fastrt_header_check PRIVATE fastrt::http2)
  endif()
  if(FASTRT_HAVE_TLS)
    target_link_libraries(fastrt_header_check PRIVATE fastrt::tls)
  endif()

  # The check itself must be able to fail: the same flags reject a throw.
  add_test(NAME header_check_rejects_exceptions
           COMMAND ${CMAKE_CXX_COMPILER} -std=c++20 -fsyntax-only ${FASTRT_NO_EXCEPTIONS_FLAGS}
                   ${PROJECT_SOURCE_DIR}/tests/compile_fail/needs_exceptions.cpp)
  add_test(NAME header_check_rejects_rtti
           COMMAND ${CMAKE_CXX_COMPILER} -std=c++20 -fsyntax-only ${FASTRT_NO_EXCEPTIONS_FLAGS}
                   ${PROJECT_SOURCE_DIR}/tests/compile_fail/needs_rtti.cpp)
  set_tests_properties(header_check_rejects_exceptions header_check_rejects_rtti
                       PROPERTIES WILL_FAIL TRUE LABELS "build")
endfunction()
