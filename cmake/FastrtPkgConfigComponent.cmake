# fastrt_pkgconfig_component(<name> <prefix> <module> <apt package>): the
# optional component fastrt::<name>, an INTERFACE target over fastrt_core and
# the system library pkg-config finds as <module> (e.g. "liburing>=2.3",
# results under <prefix>_*, imported as PkgConfig::<prefix>). Built when
# FASTRT_WITH_<NAME> is ON and the module is found; sets FASTRT_HAVE_<NAME>
# (ON/OFF) in the caller. Not found: a status line names the Debian package.
# Call after find_package(PkgConfig). Outside, use PkgConfig::<prefix> and
# the cached results (<prefix>_VERSION, <prefix>_INCLUDE_DIRS): the ones
# pkg_check_modules sets as plain variables (<prefix>_LINK_LIBRARIES) stay
# in the function.
function(fastrt_pkgconfig_component name prefix module apt_package)
  string(TOUPPER "${name}" upper)
  set(have OFF)
  if(FASTRT_WITH_${upper})
    if(PKG_CONFIG_FOUND)
      pkg_check_modules(${prefix} QUIET IMPORTED_TARGET ${module})
    endif()
    if(${prefix}_FOUND)
      add_library(fastrt_${name} INTERFACE)
      add_library(fastrt::${name} ALIAS fastrt_${name})
      target_link_libraries(fastrt_${name} INTERFACE fastrt_core PkgConfig::${prefix})
      set_target_properties(fastrt_${name} PROPERTIES EXPORT_NAME ${name})
      set(have ON)
    else()
      message(STATUS "fastrt: ${module} not found (apt-get install ${apt_package}): fastrt::${name} is not built")
    endif()
  endif()
  set(FASTRT_HAVE_${upper} ${have} PARENT_SCOPE)
endfunction()
