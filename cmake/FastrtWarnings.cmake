# Strict warnings for fastrt's own binaries (tests, examples, benchmarks).
# Consumers of fastrt::core do not inherit them.
add_library(fastrt_warnings INTERFACE)
target_compile_options(fastrt_warnings INTERFACE -Wall -Wextra -Werror)

# The flags that prove a translation unit needs neither exceptions nor RTTI.
set(FASTRT_NO_EXCEPTIONS_FLAGS -fno-exceptions -fno-rtti)
add_library(fastrt_no_exceptions INTERFACE)
target_compile_options(fastrt_no_exceptions INTERFACE ${FASTRT_NO_EXCEPTIONS_FLAGS})

# Examples use the no-exception flags whenever FASTRT_NO_EXCEPTIONS is on.
function(fastrt_example_options target)
  target_link_libraries(${target} PRIVATE fastrt::core fastrt_warnings)
  if(FASTRT_NO_EXCEPTIONS)
    target_link_libraries(${target} PRIVATE fastrt_no_exceptions)
  endif()
endfunction()
