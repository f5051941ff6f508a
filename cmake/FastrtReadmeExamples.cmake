# Every ```cpp block of the README is a complete program: it is extracted at
# configure time, compiled with the examples' flags and run as a test, so the
# documentation cannot drift from the API.
function(fastrt_add_readme_examples readme)
  set(out ${CMAKE_CURRENT_BINARY_DIR}/readme_examples)
  file(REMOVE_RECURSE ${out})
  file(MAKE_DIRECTORY ${out})
  set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS ${readme})
  execute_process(
    COMMAND awk -v dir=${out} [[
      /^```cpp/ { n++; file = sprintf("%s/example_%02d.cpp", dir, n); inside = 1; next }
      /^```/    { inside = 0; next }
      inside    { print > file }
    ]] ${readme}
    RESULT_VARIABLE status)
  if(NOT status EQUAL 0)
    message(FATAL_ERROR "could not extract the README examples from ${readme}")
  endif()
  file(GLOB examples ${out}/example_*.cpp)
  foreach(source IN LISTS examples)
    get_filename_component(name ${source} NAME_WE)
    # Examples of the python layer need fastrt::python (CPython >= 3.12).
    file(STRINGS ${source} needs_python REGEX "#include <fastrt/python/")
    if(needs_python AND NOT FASTRT_HAVE_PYTHON)
      continue()
    endif()
    add_executable(readme_${name} ${source})
    fastrt_example_options(readme_${name})
    # Examples of the io layer need liburing; without it they are skipped.
    file(STRINGS ${source} uses_io REGEX "#include <fastrt/(io_context|tcp_|timer|io_threads)")
    if(uses_io)
      if(NOT FASTRT_HAVE_URING)
        continue()
      endif()
      target_link_libraries(readme_${name} PRIVATE fastrt::uring)
    endif()
    add_test(NAME readme_${name} COMMAND readme_${name})
    set_tests_properties(readme_${name} PROPERTIES LABELS "readme;concurrency" TIMEOUT 60)
    if(needs_python)
      target_link_libraries(readme_${name} PRIVATE fastrt::python)
      # CPython's own leaks at interpreter end: see tests/lsan_python.supp.
      set_tests_properties(readme_${name} PROPERTIES LABELS "readme;concurrency;python" ENVIRONMENT
        "LSAN_OPTIONS=suppressions=${PROJECT_SOURCE_DIR}/tests/lsan_python.supp")
    endif()
  endforeach()
endfunction()
