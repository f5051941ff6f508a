# Overlay port built from this checkout (no download):
#   vcpkg install "fastrt[uring,python,http2,tls]" --overlay-ports=<fastrt>/ports
set(SOURCE_PATH "${CMAKE_CURRENT_LIST_DIR}/../..")
set(VCPKG_BUILD_TYPE release)  # header-only: one configuration is enough

vcpkg_check_features(OUT_FEATURE_OPTIONS FEATURE_OPTIONS
  FEATURES
    uring  FASTRT_WITH_URING
    python FASTRT_WITH_PYTHON
    http2  FASTRT_WITH_HTTP2
    tls    FASTRT_WITH_TLS)

# vcpkg clears the environment; pass FASTRT_PYTHON through
# VCPKG_KEEP_ENV_VARS=FASTRT_PYTHON to pick the CPython to embed.
set(python_option "")
if(DEFINED ENV{FASTRT_PYTHON})
  set(python_option "-DFASTRT_PYTHON=$ENV{FASTRT_PYTHON}")
endif()

# fastrt's CMakeLists finds liburing, libnghttp2 and openssl with pkg-config.
set(pkgconfig_option "")
if("uring" IN_LIST FEATURES OR "http2" IN_LIST FEATURES OR "tls" IN_LIST FEATURES)
  vcpkg_find_acquire_program(PKGCONFIG)
  set(pkgconfig_option "-DPKG_CONFIG_EXECUTABLE=${PKGCONFIG}")
endif()

vcpkg_cmake_configure(
  SOURCE_PATH "${SOURCE_PATH}"
  OPTIONS
    -DFASTRT_BUILD_TESTS=OFF
    -DFASTRT_BUILD_EXAMPLES=OFF
    ${FEATURE_OPTIONS}
    ${python_option}
    ${pkgconfig_option})
vcpkg_cmake_install()
vcpkg_cmake_config_fixup(CONFIG_PATH lib/cmake/fastrt)

# A requested feature whose dependency configure did not find is an error,
# not a silently smaller package.
foreach(feature IN ITEMS uring python http2 tls)
  if(feature IN_LIST FEATURES AND NOT EXISTS "${CURRENT_PACKAGES_DIR}/lib/pkgconfig/fastrt-${feature}.pc")
    message(FATAL_ERROR "fastrt[${feature}]: configure did not find its dependency (see the configure log)")
  endif()
endforeach()

# Header-only: the pkg-config files belong in share/ (they locate the prefix
# from their own directory, two levels up either way).
file(MAKE_DIRECTORY "${CURRENT_PACKAGES_DIR}/share/pkgconfig")
file(GLOB pc_files "${CURRENT_PACKAGES_DIR}/lib/pkgconfig/*.pc")
file(COPY ${pc_files} DESTINATION "${CURRENT_PACKAGES_DIR}/share/pkgconfig")
file(REMOVE_RECURSE "${CURRENT_PACKAGES_DIR}/lib" "${CURRENT_PACKAGES_DIR}/debug")
vcpkg_fixup_pkgconfig()

if("python" IN_LIST FEATURES)
  # fastrtConfig.cmake and fastrt-python.pc record the system CPython's paths.
  set(VCPKG_POLICY_SKIP_ABSOLUTE_PATHS_CHECK enabled)
endif()

file(INSTALL "${CMAKE_CURRENT_LIST_DIR}/usage" DESTINATION "${CURRENT_PACKAGES_DIR}/share/${PORT}")
# The project has not published a license file yet; vcpkg requires one.
file(WRITE "${CURRENT_PACKAGES_DIR}/share/${PORT}/copyright"
     "fastrt ${VERSION}: no license file has been published with the sources yet.\n")
