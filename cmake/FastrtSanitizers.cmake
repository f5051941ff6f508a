# FASTRT_SANITIZE=address,undefined | thread applies to every target of this
# build tree. Recoverable UBSan reports are made fatal so ctest sees them.
if(FASTRT_SANITIZE)
  set(_fastrt_san -fsanitize=${FASTRT_SANITIZE} -fno-omit-frame-pointer -g)
  if(FASTRT_SANITIZE MATCHES "undefined")
    list(APPEND _fastrt_san -fno-sanitize-recover=all)
  endif()
  add_compile_options(${_fastrt_san})
  add_link_options(${_fastrt_san})
endif()
