// Small helpers shared by the echo benchmark programs (the peers and the load
// generator). Deliberately independent of fastrt: plain POSIX + the standard library.
#pragma once

#include <sys/resource.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <initializer_list>
#include <map>
#include <string>
#include <string_view>

namespace echo_bench {

// Raises the soft RLIMIT_NOFILE to the hard limit; returns the new soft limit.
inline rlim_t raise_nofile_limit() {
  rlimit lim{};
  if (::getrlimit(RLIMIT_NOFILE, &lim) != 0) return 0;
  if (lim.rlim_cur < lim.rlim_max) {
    lim.rlim_cur = lim.rlim_max;
    if (::setrlimit(RLIMIT_NOFILE, &lim) != 0) {
      std::fprintf(stderr, "warning: setrlimit(RLIMIT_NOFILE, %llu): %s\n",
                   static_cast<unsigned long long>(lim.rlim_max), std::strerror(errno));
      ::getrlimit(RLIMIT_NOFILE, &lim);
    }
  }
  return lim.rlim_cur;
}

[[noreturn]] inline void die(const char* what) {
  std::fprintf(stderr, "fatal: %s: %s\n", what, std::strerror(errno));
  std::exit(1);
}

// "--name value" pairs; every option takes a value. Unknown options are fatal.
class args {
 public:
  args(int argc, char** argv, std::initializer_list<std::string_view> known, const char* usage) : usage_(usage) {
    for (int i = 1; i < argc; ++i) {
      std::string_view name = argv[i];
      if (name == "--help" || name == "-h") {
        std::printf("usage: %s %s\n", argv[0], usage_);
        std::exit(0);
      }
      bool ok = name.starts_with("--") && i + 1 < argc;
      if (ok) {
        ok = false;
        for (auto k : known) ok = ok || k == name.substr(2);
      }
      if (!ok) {
        std::fprintf(stderr, "%s: bad option '%s'\nusage: %s %s\n", argv[0], argv[i], argv[0], usage_);
        std::exit(2);
      }
      values_[std::string(name.substr(2))] = argv[++i];
    }
  }

  bool has(const std::string& name) const { return values_.count(name) != 0; }

  std::string str(const std::string& name, const char* fallback) const {
    auto it = values_.find(name);
    return it == values_.end() ? std::string(fallback) : it->second;
  }

  long integer(const std::string& name, long fallback) const {
    auto it = values_.find(name);
    if (it == values_.end()) return fallback;
    char* end = nullptr;
    long v = std::strtol(it->second.c_str(), &end, 10);
    if (end == it->second.c_str() || *end != '\0') bad(name);
    return v;
  }

  double real(const std::string& name, double fallback) const {
    auto it = values_.find(name);
    if (it == values_.end()) return fallback;
    char* end = nullptr;
    double v = std::strtod(it->second.c_str(), &end);
    if (end == it->second.c_str() || *end != '\0') bad(name);
    return v;
  }

 private:
  [[noreturn]] void bad(const std::string& name) const {
    std::fprintf(stderr, "bad value for --%s\nusage: %s\n", name.c_str(), usage_);
    std::exit(2);
  }

  const char* usage_;
  std::map<std::string, std::string> values_;
};

}  // namespace echo_bench
