# fastrt::python — CPython >= 3.12 for embedding (own-GIL subinterpreters,
# PEP 684, arrived in 3.12). Which interpreter:
#   1. -DFASTRT_PYTHON=/path/to/python3.X (an executable): that one, or
#   2. -DFASTRT_PYTHON_MINOR=3.12 (a release series, as the py312 preset
#      asks): the newest 3.12.x among Python3_ROOT_DIR/bin, pyenv's
#      versions (`pyenv prefix 3.12`, $PYENV_ROOT and ~/.pyenv), python3.12
#      on PATH and Debian's /usr/bin, /usr/local/bin; none: configure fails
#      and says where it looked; otherwise
#   3. the newest CPython >= 3.12 found: Python3_ROOT_DIR/bin/python3.X,
#      pyenv's 3.14*, 3.13*, 3.12* (newest first), python3.1X or python3 on PATH.
# A candidate qualifies when it is >= 3.12 and was built with a shared
# libpython (Py_ENABLE_SHARED): embedding links that library, and the rpath
# set below lets test binaries find it without LD_LIBRARY_PATH.
# Without one (1 and 3), configure says so and fastrt::python is not defined
# (FASTRT_HAVE_PYTHON OFF); nothing else depends on it.
set(FASTRT_PYTHON "" CACHE FILEPATH "CPython >= 3.12 executable whose libpython fastrt::python embeds")
set(FASTRT_PYTHON_MINOR "" CACHE STRING
    "CPython release series to embed, X.Y (e.g. 3.12), found without a machine path; empty: the newest >= 3.12")

# pyenv's installed versions of `series` ("3.12"), newest first, as
# interpreters bin/python3.12: `pyenv prefix` (when pyenv is on PATH), then
# $PYENV_ROOT/versions/3.12* and ~/.pyenv/versions/3.12*.
function(_fastrt_pyenv_pythons series out)
  set(found "")
  find_program(_fastrt_pyenv pyenv NO_CACHE)
  if(_fastrt_pyenv)
    execute_process(COMMAND "${_fastrt_pyenv}" prefix "${series}"
                    OUTPUT_VARIABLE prefix OUTPUT_STRIP_TRAILING_WHITESPACE RESULT_VARIABLE rc ERROR_QUIET)
    if(rc EQUAL 0 AND IS_DIRECTORY "${prefix}")
      list(APPEND found "${prefix}/bin/python${series}")
    endif()
  endif()
  set(roots "")
  if(DEFINED ENV{PYENV_ROOT})
    list(APPEND roots "$ENV{PYENV_ROOT}")
  endif()
  if(DEFINED ENV{HOME})
    list(APPEND roots "$ENV{HOME}/.pyenv")
  endif()
  list(REMOVE_DUPLICATES roots)
  foreach(root IN LISTS roots)
    file(GLOB dirs "${root}/versions/${series}" "${root}/versions/${series}.*")
    list(SORT dirs COMPARE NATURAL ORDER DESCENDING)
    foreach(dir IN LISTS dirs)
      list(APPEND found "${dir}/bin/python${series}")
    endforeach()
  endforeach()
  set(${out} "${found}" PARENT_SCOPE)
endfunction()

function(_fastrt_python_probe exe out_ok)
  set(${out_ok} FALSE PARENT_SCOPE)
  if(NOT EXISTS "${exe}")
    return()
  endif()
  execute_process(
    COMMAND "${exe}" -I -c "import sys, sysconfig as s; v = sys.version_info; print(f'{v[0]}.{v[1]}.{v[2]};{sys.executable};{s.get_paths()[\"include\"]};{s.get_config_var(\"LIBDIR\")};{s.get_config_var(\"LDLIBRARY\")};{s.get_config_var(\"Py_ENABLE_SHARED\")};{s.get_config_var(\"Py_GIL_DISABLED\") or 0}')"
    OUTPUT_VARIABLE probe OUTPUT_STRIP_TRAILING_WHITESPACE RESULT_VARIABLE rc ERROR_QUIET)
  if(NOT rc EQUAL 0)
    return()
  endif()
  list(GET probe 0 version)
  list(GET probe 1 executable)
  list(GET probe 2 include_dir)
  list(GET probe 3 lib_dir)
  list(GET probe 4 library)
  list(GET probe 5 shared)
  list(GET probe 6 gil_disabled)
  set(_fastrt_python_seen "${_fastrt_python_seen} ${exe} (${version})" PARENT_SCOPE)
  if(version VERSION_LESS 3.12 OR NOT shared STREQUAL "1" OR NOT EXISTS "${lib_dir}/${library}")
    return()
  endif()
  if(FASTRT_PYTHON_MINOR AND NOT version MATCHES "^${FASTRT_PYTHON_MINOR_REGEX}\\.")
    return()
  endif()
  set(${out_ok} TRUE PARENT_SCOPE)
  set(FASTRT_PYTHON_VERSION "${version}" PARENT_SCOPE)
  set(FASTRT_PYTHON_INCLUDE_DIR "${include_dir}" PARENT_SCOPE)
  set(FASTRT_PYTHON_LIBRARY "${lib_dir}/${library}" PARENT_SCOPE)
  set(FASTRT_PYTHON_LIBRARY_DIR "${lib_dir}" PARENT_SCOPE)
  set(FASTRT_PYTHON_GIL_DISABLED "${gil_disabled}" PARENT_SCOPE)
  set(FASTRT_PYTHON_EXECUTABLE "${executable}" PARENT_SCOPE)
endfunction()

function(fastrt_find_python)
  set(candidates "")
  if(FASTRT_PYTHON_MINOR)  # (also checked against an explicit FASTRT_PYTHON, in _fastrt_python_probe)
    if(NOT FASTRT_PYTHON_MINOR MATCHES "^3\\.[0-9]+$" OR FASTRT_PYTHON_MINOR VERSION_LESS 3.12)
      message(FATAL_ERROR "fastrt: FASTRT_PYTHON_MINOR=${FASTRT_PYTHON_MINOR}: give a CPython release series "
                          ">= 3.12 as X.Y (e.g. 3.12)")
    endif()
    string(REPLACE "." "\\." FASTRT_PYTHON_MINOR_REGEX "${FASTRT_PYTHON_MINOR}")
  endif()
  if(FASTRT_PYTHON)
    set(candidates "${FASTRT_PYTHON}")  # explicit: nothing else is tried
  elseif(FASTRT_PYTHON_MINOR)
    set(name "python${FASTRT_PYTHON_MINOR}")
    if(Python3_ROOT_DIR)
      list(APPEND candidates "${Python3_ROOT_DIR}/bin/${name}")
    endif()
    _fastrt_pyenv_pythons("${FASTRT_PYTHON_MINOR}" pyenv_pythons)
    list(APPEND candidates ${pyenv_pythons})
    find_program(_fastrt_path_python "${name}" NO_CACHE)  # on PATH (a pyenv shim runs what pyenv picks)
    if(_fastrt_path_python)
      list(APPEND candidates "${_fastrt_path_python}")
    endif()
    list(APPEND candidates "/usr/bin/${name}" "/usr/local/bin/${name}")  # Debian's, or a make install
    list(REMOVE_DUPLICATES candidates)
  else()
    if(Python3_ROOT_DIR)
      file(GLOB root_pythons "${Python3_ROOT_DIR}/bin/python3.[0-9]*")
      list(FILTER root_pythons EXCLUDE REGEX "-config$|-gdb.py$")
      list(SORT root_pythons COMPARE NATURAL ORDER DESCENDING)
      list(APPEND candidates ${root_pythons})
    endif()
    foreach(series 3.14 3.13 3.12)
      _fastrt_pyenv_pythons("${series}" pyenv_pythons)
      list(APPEND candidates ${pyenv_pythons})
    endforeach()
    find_program(_fastrt_path_python3 NAMES python3.14 python3.13 python3.12 python3 NO_CACHE)
    if(_fastrt_path_python3)
      list(APPEND candidates "${_fastrt_path_python3}")
    endif()
    list(REMOVE_DUPLICATES candidates)
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
    if(FASTRT_PYTHON_MINOR AND FASTRT_PYTHON)
      # Asked for one series: a build without fastrt::python would run none of its tests.
      message(FATAL_ERROR "fastrt: FASTRT_PYTHON=${FASTRT_PYTHON} is not a CPython ${FASTRT_PYTHON_MINOR} with a "
                          "shared libpython (ran:${_fastrt_python_seen}); FASTRT_PYTHON_MINOR=${FASTRT_PYTHON_MINOR} "
                          "asks for one (clear FASTRT_PYTHON to search for it)")
    elseif(FASTRT_PYTHON_MINOR)
      list(JOIN candidates ", " looked)
      message(FATAL_ERROR "fastrt: FASTRT_PYTHON_MINOR=${FASTRT_PYTHON_MINOR}: no CPython ${FASTRT_PYTHON_MINOR} "
                          "with a shared libpython found (looked for pyenv's versions/${FASTRT_PYTHON_MINOR}* under "
                          "$PYENV_ROOT and ~/.pyenv, then at: ${looked}; ran:${_fastrt_python_seen}). "
                          "Install one (e.g. `pyenv install ${FASTRT_PYTHON_MINOR}` with "
                          "PYTHON_CONFIGURE_OPTS=--enable-shared), or pass -DFASTRT_PYTHON=/path/to/python${FASTRT_PYTHON_MINOR} "
                          "or -DPython3_ROOT_DIR=/its/prefix")
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
