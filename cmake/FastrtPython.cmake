# fastrt::python — CPython >= 3.12 for embedding (own-GIL subinterpreters,
# PEP 684, arrived in 3.12). The newest suitable interpreter wins:
#   1. -DFASTRT_PYTHON=/path/to/python3.X (an executable), or
#   2. -DPython3_ROOT_DIR=/prefix (its bin/python3.X), otherwise
#   3. pyenv's /root/.pyenv/versions/3.13*, then 3.12* (newest first), then
#   4. python3 on PATH.
# A candidate qualifies when it is >= 3.12 and was built with a shared
# libpython (Py_ENABLE_SHARED): embedding links that library, and the rpath
# set below lets test binaries find it without LD_LIBRARY_PATH.
# Without one, configure says so and fastrt::python is not defined
# (FASTRT_HAVE_PYTHON OFF); nothing else depends on it.
set(FASTRT_PYTHON "" CACHE FILEPATH "CPython >= 3.12 executable whose libpython fastrt::python embeds")

function(_fastrt_python_probe exe out_ok)
  set(${out_ok} FALSE PARENT_SCOPE)
  if(NOT EXISTS "${exe}")
    return()
  endif()
  execute_process(
    COMMAND "${exe}" -I -c "import sys, sysconfig as s; v = sys.version_info; print(f'{v[0]}.{v[1]}.{v[2]};{s.get_paths()[\"include\"]};{s.get_config_var(\"LIBDIR\")};{s.get_config_var(\"LDLIBRARY\")};{s.get_config_var(\"Py_ENABLE_SHARED\")};{s.get_config_var(\"Py_GIL_DISABLED\") or 0}')"
    OUTPUT_VARIABLE probe OUTPUT_STRIP_TRAILING_WHITESPACE RESULT_VARIABLE rc ERROR_QUIET)
  if(NOT rc EQUAL 0)
    return()
  endif()
  list(GET probe 0 version)
  list(GET probe 1 include_dir)
  list(GET probe 2 lib_dir)
  list(GET probe 3 library)
  list(GET probe 4 shared)
  list(GET probe 5 gil_disabled)
  set(_fastrt_python_seen "${_fastrt_python_seen} ${exe} (${version})" PARENT_SCOPE)
  if(version VERSION_LESS 3.12 OR NOT shared STREQUAL "1" OR NOT EXISTS "${lib_dir}/${library}")
    return()
  endif()
  set(${out_ok} TRUE PARENT_SCOPE)
  set(FASTRT_PYTHON_VERSION "${version}" PARENT_SCOPE)
  set(FASTRT_PYTHON_INCLUDE_DIR "${include_dir}" PARENT_SCOPE)
  set(FASTRT_PYTHON_LIBRARY "${lib_dir}/${library}" PARENT_SCOPE)
  set(FASTRT_PYTHON_LIBRARY_DIR "${lib_dir}" PARENT_SCOPE)
  set(FASTRT_PYTHON_GIL_DISABLED "${gil_disabled}" PARENT_SCOPE)
  set(FASTRT_PYTHON_EXECUTABLE "${exe}" PARENT_SCOPE)
endfunction()

function(fastrt_find_python)
  set(candidates "")
  if(FASTRT_PYTHON)
    set(candidates "${FASTRT_PYTHON}")  # explicit: nothing else is tried
  else()
    if(Python3_ROOT_DIR)
      file(GLOB root_pythons "${Python3_ROOT_DIR}/bin/python3.[0-9]*")
      list(FILTER root_pythons EXCLUDE REGEX "-config$|-gdb.py$")
      list(SORT root_pythons COMPARE NATURAL ORDER DESCENDING)
      list(APPEND candidates ${root_pythons})
    endif()
    foreach(minor 13 12)
      file(GLOB pyenv_dirs "/root/.pyenv/versions/3.${minor}*")
      list(SORT pyenv_dirs COMPARE NATURAL ORDER DESCENDING)
      foreach(dir IN LISTS pyenv_dirs)
        list(APPEND candidates "${dir}/bin/python3.${minor}")
      endforeach()
    endforeach()
    find_program(_fastrt_path_python3 NAMES python3.13 python3.12 python3 NO_CACHE)
    if(_fastrt_path_python3)
      list(APPEND candidates "${_fastrt_path_python3}")
    endif()
  endif()

  set(_fastrt_python_seen "")
  foreach(exe IN LISTS candidates)
    _fastrt_python_probe("${exe}" ok)
    if(ok)
      break()
    endif()
  endforeach()

  if(NOT ok)
    if(NOT _fastrt_python_seen)
      set(_fastrt_python_seen " none")
    endif()
    message(STATUS "fastrt: subinterpreter workers need CPython 3.12+ with a shared libpython; "
                   "fastrt::python not built (found:${_fastrt_python_seen}). Install one "
                   "(e.g. `pyenv install 3.13` with PYTHON_CONFIGURE_OPTS=--enable-shared) and pass "
                   "-DFASTRT_PYTHON=/path/to/python3.13 or -DPython3_ROOT_DIR=/its/prefix")
    set(FASTRT_HAVE_PYTHON OFF PARENT_SCOPE)
    return()
  endif()

  add_library(fastrt_python INTERFACE)
  add_library(fastrt::python ALIAS fastrt_python)
  # SYSTEM: CPython's headers are not held to our -Wall -Wextra -Werror.
  target_include_directories(fastrt_python SYSTEM INTERFACE "${FASTRT_PYTHON_INCLUDE_DIR}")
  target_link_libraries(fastrt_python INTERFACE fastrt_core "${FASTRT_PYTHON_LIBRARY}" ${CMAKE_DL_LIBS})
  target_link_options(fastrt_python INTERFACE "LINKER:-rpath,${FASTRT_PYTHON_LIBRARY_DIR}")
  set_target_properties(fastrt_python PROPERTIES EXPORT_NAME python)
  message(STATUS "fastrt: fastrt::python embeds CPython ${FASTRT_PYTHON_VERSION} "
                 "(${FASTRT_PYTHON_LIBRARY}, Py_GIL_DISABLED=${FASTRT_PYTHON_GIL_DISABLED})")
  set(FASTRT_HAVE_PYTHON ON PARENT_SCOPE)
  set(FASTRT_PYTHON_VERSION "${FASTRT_PYTHON_VERSION}" PARENT_SCOPE)
  set(FASTRT_PYTHON_EXECUTABLE "${FASTRT_PYTHON_EXECUTABLE}" PARENT_SCOPE)
  set(FASTRT_PYTHON_GIL_DISABLED "${FASTRT_PYTHON_GIL_DISABLED}" PARENT_SCOPE)
  # Recorded in the installed fastrtConfig.cmake and fastrt-python.pc.
  set(FASTRT_PYTHON_INCLUDE_DIR "${FASTRT_PYTHON_INCLUDE_DIR}" PARENT_SCOPE)
  set(FASTRT_PYTHON_LIBRARY "${FASTRT_PYTHON_LIBRARY}" PARENT_SCOPE)
  set(FASTRT_PYTHON_LIBRARY_DIR "${FASTRT_PYTHON_LIBRARY_DIR}" PARENT_SCOPE)
endfunction()
