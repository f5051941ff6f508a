# Install rules: headers (plus the generated <fastrt/version.hpp>), the CMake
# package (fastrtConfig.cmake, components core/uring/python/http2/tls) and
# pkg-config files (fastrt, fastrt-uring, fastrt-python, fastrt-http2,
# fastrt-tls). The example binaries install
# themselves from examples/*/CMakeLists.txt.
#
# Only fastrt_core is exported: fastrt_uring, fastrt_python, fastrt_http2 and
# fastrt_tls link imported targets (PkgConfig::LIBURING, a libpython path,
# PkgConfig::NGHTTP2, PkgConfig::OPENSSL) that belong to this build, so
# fastrtConfig.cmake finds those dependencies again on the consumer's machine
# and defines fastrt::uring / fastrt::python / fastrt::http2 / fastrt::tls
# itself (fastrt::tls over CMake's OpenSSL::SSL). fastrt::http2's
# nghttp2 feature definitions are asked of the consumer's libnghttp2 there
# (FastrtNghttp2Features.cmake, installed beside the config); fastrt-http2.pc
# cannot ask, so it records this build's.
include(CMakePackageConfigHelpers)

set(FASTRT_INSTALL_CMAKEDIR ${CMAKE_INSTALL_LIBDIR}/cmake/fastrt CACHE STRING
    "Where fastrtConfig.cmake is installed (relative to the prefix)")

install(DIRECTORY ${PROJECT_SOURCE_DIR}/include/fastrt ${PROJECT_BINARY_DIR}/include/fastrt
        DESTINATION ${CMAKE_INSTALL_INCLUDEDIR} COMPONENT fastrt_development
        FILES_MATCHING PATTERN "*.hpp")

install(TARGETS fastrt_core EXPORT fastrtTargets)
install(EXPORT fastrtTargets NAMESPACE fastrt:: DESTINATION ${FASTRT_INSTALL_CMAKEDIR}
        FILE fastrtTargets.cmake COMPONENT fastrt_development)

# What the python component was built against; a consumer may point it
# elsewhere (FASTRT_PYTHON_ROOT), but at the same major.minor and ABI flags.
set(FASTRT_CONFIG_HAVE_URING ${FASTRT_HAVE_URING})
set(FASTRT_CONFIG_HAVE_PYTHON ${FASTRT_HAVE_PYTHON})
set(FASTRT_CONFIG_HAVE_HTTP2 ${FASTRT_HAVE_HTTP2})
set(FASTRT_CONFIG_HAVE_TLS ${FASTRT_HAVE_TLS})
if(FASTRT_HAVE_PYTHON)
  get_filename_component(FASTRT_PYTHON_LIBRARY_NAME "${FASTRT_PYTHON_LIBRARY}" NAME)
  get_filename_component(FASTRT_PYTHON_INCLUDE_NAME "${FASTRT_PYTHON_INCLUDE_DIR}" NAME)
  # libpython3.13.so -> python3.13 (libpython3.13t.so -> python3.13t)
  string(REGEX REPLACE "^lib(.*)\\.so.*$" "\\1" FASTRT_PYTHON_LINK_NAME "${FASTRT_PYTHON_LIBRARY_NAME}")
endif()

configure_package_config_file(${PROJECT_SOURCE_DIR}/cmake/templates/fastrtConfig.cmake.in
  ${PROJECT_BINARY_DIR}/fastrtConfig.cmake INSTALL_DESTINATION ${FASTRT_INSTALL_CMAKEDIR})
write_basic_package_version_file(${PROJECT_BINARY_DIR}/fastrtConfigVersion.cmake
  COMPATIBILITY SameMajorVersion ARCH_INDEPENDENT)
install(FILES ${PROJECT_BINARY_DIR}/fastrtConfig.cmake ${PROJECT_BINARY_DIR}/fastrtConfigVersion.cmake
        DESTINATION ${FASTRT_INSTALL_CMAKEDIR} COMPONENT fastrt_development)
if(FASTRT_HAVE_HTTP2)
  install(FILES ${PROJECT_SOURCE_DIR}/cmake/FastrtNghttp2Features.cmake
          DESTINATION ${FASTRT_INSTALL_CMAKEDIR} COMPONENT fastrt_development)
  list(TRANSFORM FASTRT_HTTP2_DEFINITIONS PREPEND "-D" OUTPUT_VARIABLE FASTRT_HTTP2_PC_CFLAGS)
  list(JOIN FASTRT_HTTP2_PC_CFLAGS " " FASTRT_HTTP2_PC_CFLAGS)
endif()

# pkg-config files locate the prefix from their own directory (${pcfiledir}),
# so `cmake --install --prefix` anywhere gives working files.
set(FASTRT_PKGCONFIG_DIR ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
if(IS_ABSOLUTE "${FASTRT_PKGCONFIG_DIR}")
  message(FATAL_ERROR "fastrt: CMAKE_INSTALL_LIBDIR must be relative for the pkg-config files")
endif()
file(RELATIVE_PATH FASTRT_PC_TO_PREFIX /prefix/${FASTRT_PKGCONFIG_DIR} /prefix)
string(REGEX REPLACE "/$" "" FASTRT_PC_TO_PREFIX "${FASTRT_PC_TO_PREFIX}")
set(pc_files fastrt)
if(FASTRT_HAVE_URING)
  list(APPEND pc_files fastrt-uring)
endif()
if(FASTRT_HAVE_PYTHON)
  list(APPEND pc_files fastrt-python)
endif()
if(FASTRT_HAVE_HTTP2)
  list(APPEND pc_files fastrt-http2)
endif()
if(FASTRT_HAVE_TLS)
  list(APPEND pc_files fastrt-tls)
endif()
foreach(pc IN LISTS pc_files)
  configure_file(${PROJECT_SOURCE_DIR}/cmake/templates/${pc}.pc.in ${PROJECT_BINARY_DIR}/pkgconfig/${pc}.pc @ONLY)
  install(FILES ${PROJECT_BINARY_DIR}/pkgconfig/${pc}.pc DESTINATION ${FASTRT_PKGCONFIG_DIR}
          COMPONENT fastrt_development)
endforeach()
