"""Conan 2 recipe for fastrt (header-only; run from this checkout).

    conan create . -o "fastrt/*:with_python=True"
    conan create . -o "fastrt/*:with_python=True" -c user.fastrt:python=/path/to/python3.13
    conan create . -o "fastrt/*:with_http2=True"
    conan create . -o "fastrt/*:with_http2=True" -o "fastrt/*:with_tls=True"

Components: core (always), uring (option with_uring, liburing from Conan
Center), python (option with_python: the system's CPython >= 3.12 with a
shared libpython, which Conan does not provide; its paths are read back from
the installed fastrt-python.pc), http2 (option with_http2, libnghttp2 from
Conan Center: the HTTP/2 server's pieces, no Python), tls (option with_tls,
OpenSSL 3 from Conan Center: tls_context, tls_stream and, with http2, HTTPS
listeners; needs with_uring).
"""
import os
import re

from conan import ConanFile
from conan.errors import ConanException, ConanInvalidConfiguration
from conan.tools.build import check_min_cppstd
from conan.tools.cmake import CMake, CMakeDeps, CMakeToolchain, cmake_layout
from conan.tools.files import load
from conan.tools.gnu import PkgConfigDeps

required_conan_version = ">=2.0"


class FastrtConan(ConanFile):
    name = "fastrt"
    version = "0.1.0"
    description = "Header-only C++20 concurrency runtime: coroutines, io_uring, CPython subinterpreters"
    topics = ("coroutines", "io_uring", "concurrency", "python", "header-only")
    package_type = "header-library"
    settings = "os", "arch", "compiler", "build_type"
    options = {"with_uring": [True, False], "with_python": [True, False], "with_http2": [True, False],
               "with_tls": [True, False]}
    default_options = {"with_uring": True, "with_python": False, "with_http2": False, "with_tls": False}
    exports_sources = "CMakeLists.txt", "CHANGELOG.md", "cmake/*", "include/*"

    def validate(self):
        if self.settings.compiler.get_safe("cppstd"):
            check_min_cppstd(self, 20)
        if self.options.with_uring and self.settings.os != "Linux":
            raise ConanInvalidConfiguration("fastrt: with_uring needs Linux (io_uring)")
        if self.options.with_http2 and not self.options.with_uring:
            raise ConanInvalidConfiguration("fastrt: with_http2 needs with_uring (its connections run on io_uring)")
        if self.options.with_tls and not self.options.with_uring:
            raise ConanInvalidConfiguration("fastrt: with_tls needs with_uring (its streams run on io_uring)")

    def requirements(self):
        if self.options.with_uring:
            self.requires("liburing/2.5")
        if self.options.with_http2:
            self.requires("libnghttp2/[>=1.43 <2]")
        if self.options.with_tls:
            self.requires("openssl/[>=3 <4]")

    def layout(self):
        cmake_layout(self)

    def generate(self):
        tc = CMakeToolchain(self)
        tc.cache_variables["FASTRT_BUILD_TESTS"] = False
        tc.cache_variables["FASTRT_BUILD_EXAMPLES"] = False
        tc.cache_variables["FASTRT_WITH_URING"] = bool(self.options.with_uring)
        tc.cache_variables["FASTRT_WITH_PYTHON"] = bool(self.options.with_python)
        tc.cache_variables["FASTRT_WITH_HTTP2"] = bool(self.options.with_http2)
        tc.cache_variables["FASTRT_WITH_TLS"] = bool(self.options.with_tls)
        python = self.conf.get("user.fastrt:python", default="")
        if python:
            tc.cache_variables["FASTRT_PYTHON"] = python
        tc.generate()
        CMakeDeps(self).generate()
        # fastrt's CMakeLists finds liburing, libnghttp2 and openssl with pkg-config.
        PkgConfigDeps(self).generate()

    def build(self):
        # Header-only: configuring generates <fastrt/version.hpp> and the
        # package files; there is nothing to compile.
        cmake = CMake(self)
        cmake.configure()

    def package(self):
        CMake(self).install()
        for comp in ("uring", "python", "http2", "tls"):
            pc = f"fastrt-{comp}.pc"
            wanted = self.options.get_safe(f"with_{comp}")
            if wanted and not os.path.isfile(os.path.join(self.package_folder, "lib", "pkgconfig", pc)):
                raise ConanException(f"fastrt: with_{comp}=True but configure did not find its dependency "
                                     "(see the CMake output above)")

    def package_id(self):
        # The headers do not depend on the compiler or build type; the
        # options stay, since they decide which components exist.
        self.info.settings.clear()

    def _component(self, name, pkg_config_name, requires):
        """The header-only component fastrt::<name> (no binaries, no libraries of its own)."""
        component = self.cpp_info.components[name]
        component.set_property("cmake_target_name", f"fastrt::{name}")
        component.set_property("pkg_config_name", pkg_config_name)
        component.requires = requires
        component.bindirs = []
        component.libdirs = []
        return component

    def package_info(self):
        self.cpp_info.set_property("cmake_file_name", "fastrt")
        self.cpp_info.bindirs = []
        self.cpp_info.libdirs = []

        core = self._component("core", "fastrt", [])
        if self.settings.os in ("Linux", "FreeBSD"):
            core.system_libs = ["pthread"]

        if self.options.with_uring:
            self._component("uring", "fastrt-uring", ["core", "liburing::liburing"])

        if self.options.with_http2:
            # Its connections run on io_uring.
            http2 = self._component("http2", "fastrt-http2", ["uring", "libnghttp2::libnghttp2"])
            # The nghttp2 flood limits the headers may call, as configure found
            # them in Conan's libnghttp2 (recorded in fastrt-http2.pc's Cflags).
            pc = load(self, os.path.join(self.package_folder, "lib", "pkgconfig", "fastrt-http2.pc"))
            http2.defines = re.findall(r"-D(FASTRT_HAVE_NGHTTP2_\w+=1)", pc)

        if self.options.with_tls:
            self._component("tls", "fastrt-tls", ["uring", "openssl::ssl"])  # its streams run on io_uring

        if self.options.with_python:
            # The CPython recorded at package time (outside the package).
            pc = load(self, os.path.join(self.package_folder, "lib", "pkgconfig", "fastrt-python.pc"))
            libdir = re.search(r"^pylibdir=(.*)$", pc, re.M).group(1)
            includedir = re.search(r"^pyincludedir=(.*)$", pc, re.M).group(1)
            library = re.search(r"-l(python\S+)", pc).group(1)
            python = self._component("python", "fastrt-python", ["core"])
            python.includedirs = [includedir]
            python.libdirs = [libdir]
            python.system_libs = [library, "dl"]
            python.exelinkflags = [f"-Wl,-rpath,{libdir}"]
            python.sharedlinkflags = [f"-Wl,-rpath,{libdir}"]
