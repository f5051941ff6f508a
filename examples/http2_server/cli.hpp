// cli.hpp — a command line as one table of flags. A row names a flag, its
// value placeholder and help text, and binds it to a field: how the value is
// read, the range it must fall in, where it is written. The parser and the
// usage text are both generated from the table, and the "(default X)" of the
// usage text is read from the bound field before anything is parsed, so a
// default is written once: as the member initializer of the field the flag
// sets. Errors are one line, the flag named first ("--port needs a number in
// [0, 65535]").
//
//   options o;
//   auto table = flags(o);                   // rows bound to o's fields
//   auto parsed = cli::parse(table, argc, argv);
//   std::fputs(cli::usage(head, table, tail).c_str(), stdout);
//
// Thread-safety: none; for main() before any thread starts. Cost: startup
// only (a std::function per row).
#pragma once

#include <fastrt/result.hpp>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <limits>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

namespace fastrt_h2::cli {

// What the command line asks for.
enum class action : std::uint8_t { serve, help, version };

// How a flag's value is read and where it goes.
struct binding {
  enum class kind : std::uint8_t {
    value,   // takes the next argument
    on,      // a switch: takes none, sets its field to true
    command  // --help, --version: parsing stops, the action is returned
  };
  kind what = kind::value;
  // Reads `text` (null for a switch) into the bound field; the error names `flag`.
  std::function<fastrt::result<void>(std::string_view flag, const char* text)> set;
  action command = action::serve;
  // The bound field's value when the row was made, as the usage text shows
  // it; empty: no "(default ...)" (a switch, an empty text).
  std::string shown_default;
  std::string_view note;  // after the default: "(default 2: NOTE)"

  // The same binding, its default explained ("one per core").
  binding noting(std::string_view why) && {
    note = why;
    return std::move(*this);
  }
};

struct flag {
  std::string_view names;        // "--port", or "-h, --help"
  std::string_view placeholder;  // "P"; empty for a switch or a command
  binding bind;
  std::string_view help;         // one line: the usage text wraps it
};

namespace detail {

inline fastrt::error invalid(std::string text) { return fastrt::error(std::errc::invalid_argument, std::move(text)); }

// "1 GiB" for whole KiB, MiB and GiB; empty otherwise.
inline std::string binary_units(std::uint64_t bytes) {
  constexpr const char* units[] = {"KiB", "MiB", "GiB", "TiB"};
  std::string shown;
  for (int i = 0; bytes >= 1024 && bytes % 1024 == 0 && i < 4; ++i) {
    bytes /= 1024;
    shown = std::to_string(bytes) + " " + units[i];
  }
  return shown;
}

inline std::string seconds_text(std::chrono::milliseconds ms) {
  char text[32];
  std::snprintf(text, sizeof text, "%g", static_cast<double>(ms.count()) / 1000.0);
  return text;
}

}  // namespace detail

// An integer in [min, max] (strtoll: decimal, nothing after it).
template <class T>
  requires std::is_integral_v<T>
binding number(T& field, long long min, long long max) {
  binding b;
  b.shown_default = std::to_string(field);
  b.set = [&field, min, max](std::string_view flag, const char* text) -> fastrt::result<void> {
    char* end = nullptr;
    const long long value = std::strtoll(text, &end, 10);
    if (end == text || *end != '\0' || value < min || value > max)
      return detail::invalid(std::string(flag) + " needs a number in [" + std::to_string(min) + ", " +
                             std::to_string(max) + "]");
    field = static_cast<T>(value);
    return {};
  };
  return b;
}

// A byte count in [0, max]; the default is shown with its unit too
// ("67108864 = 64 MiB").
inline binding bytes(std::size_t& field, long long max) {
  binding b = number(field, 0, max);
  if (std::string units = detail::binary_units(field); !units.empty()) b.shown_default += " = " + units;
  return b;
}

// Seconds in [0, 86400], fractions allowed, kept as milliseconds (rounded).
inline binding seconds(std::chrono::milliseconds& field) {
  binding b;
  b.shown_default = detail::seconds_text(field);
  b.set = [&field](std::string_view flag, const char* text) -> fastrt::result<void> {
    char* end = nullptr;
    const double value = std::strtod(text, &end);
    if (end == text || *end != '\0' || !(value >= 0 && value <= 86400))
      return detail::invalid(std::string(flag) + " needs seconds in [0, 86400]");
    field = std::chrono::milliseconds(static_cast<long long>(value * 1000.0 + 0.5));
    return {};
  };
  return b;
}

// Any text.
inline binding text(std::string& field) {
  binding b;
  b.shown_default = field;
  b.set = [&field](std::string_view, const char* value) -> fastrt::result<void> {
    field = value;
    return {};
  };
  return b;
}

// A repeatable flag: each occurrence appends its value.
inline binding appended(std::vector<std::string>& field) {
  binding b;
  b.set = [&field](std::string_view, const char* value) -> fastrt::result<void> {
    field.emplace_back(value);
    return {};
  };
  return b;
}

// "module:function": a colon with something on both sides.
inline binding module_function(std::string& field) {
  binding b = text(field);
  b.set = [&field](std::string_view flag, const char* value) -> fastrt::result<void> {
    const std::string_view spec = value;
    const auto colon = spec.find(':');
    if (colon == std::string_view::npos || colon == 0 || colon + 1 == spec.size())
      return detail::invalid(std::string(flag) + " needs MODULE:FUNCTION, got '" + std::string(spec) + "'");
    field = spec;
    return {};
  };
  return b;
}

// A switch: given, the field becomes true.
inline binding on(bool& field) {
  binding b;
  b.what = binding::kind::on;
  b.set = [&field](std::string_view, const char*) -> fastrt::result<void> {
    field = true;
    return {};
  };
  return b;
}

// --help, --version: parse() stops there and returns `what`.
inline binding command(action what) {
  binding b;
  b.what = binding::kind::command;
  b.command = what;
  return b;
}

// Whether `arg` is one of the row's names ("-h, --help").
inline bool names_match(std::string_view names, std::string_view arg) {
  while (!names.empty()) {
    const auto comma = names.find(", ");
    if (names.substr(0, comma) == arg) return true;
    names = comma == std::string_view::npos ? std::string_view{} : names.substr(comma + 2);
  }
  return false;
}

// What parse() found: the action, and which rows were given (their names).
struct parsed {
  action what = action::serve;
  std::vector<std::string_view> given;

  bool was_given(std::string_view names) const {
    for (std::string_view g : given)
      if (g == names) return true;
    return false;
  }
};

// Reads argv into the fields the table is bound to. Stops at the first
// command (--help) or error: an argument that is not a flag, an unknown
// flag, a missing value, a value its binding refuses.
inline fastrt::result<parsed> parse(std::span<const flag> table, int argc, char** argv) {
  parsed out;
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    const flag* row = nullptr;
    for (const flag& f : table)
      if (names_match(f.names, arg)) row = &f;
    if (!row)
      return detail::invalid((arg.starts_with("--") ? "unknown option " : "unexpected argument ") + std::string(arg));
    out.given.push_back(row->names);
    switch (row->bind.what) {
      case binding::kind::command:
        out.what = row->bind.command;
        return out;
      case binding::kind::on:
        FASTRT_TRY(row->bind.set(arg, nullptr));
        break;
      case binding::kind::value:
        if (i + 1 == argc) return detail::invalid(std::string(arg) + " needs a value");
        FASTRT_TRY(row->bind.set(arg, argv[++i]));
        break;
    }
  }
  return out;
}

// The usage text: `head`, a line per flag (its help wrapped at `width`
// columns, aligned after the names, "(default X)" at the end), `tail`.
inline std::string usage(std::string_view head, std::span<const flag> table, std::string_view tail,
                         std::size_t width = 110) {
  constexpr std::size_t help_column = 30;
  std::string out(head);
  for (const flag& f : table) {
    std::string line = "  " + std::string(f.names);
    if (!f.placeholder.empty()) line += " " + std::string(f.placeholder);
    line.append(line.size() + 2 <= help_column ? help_column - line.size() : 3, ' ');
    // Word-wrapped; continuation lines start at the help column. The
    // default itself ("(default 64 = 64 MiB") is not broken.
    constexpr char unbroken = '\x1f';
    std::string help(f.help);
    if (!f.bind.shown_default.empty()) {
      std::string shown = "(default " + f.bind.shown_default;
      std::replace(shown.begin(), shown.end(), ' ', unbroken);
      help += " " + shown;
      if (!f.bind.note.empty()) help += ": " + std::string(f.bind.note);
      help += ")";
    }
    std::size_t column = line.size();
    std::string_view rest = help;
    bool first_word = true;
    while (!rest.empty()) {
      const auto space = rest.find(' ');
      std::string word(rest.substr(0, space));
      rest = space == std::string_view::npos ? std::string_view{} : rest.substr(space + 1);
      if (!first_word && column + 1 + word.size() > width) {
        line += "\n" + std::string(help_column, ' ');
        column = help_column;
      } else if (!first_word) {
        line += ' ';
        ++column;
      }
      std::replace(word.begin(), word.end(), unbroken, ' ');
      line += word;
      column += word.size();
      first_word = false;
    }
    out += line + "\n";
  }
  out += tail;
  return out;
}

}  // namespace fastrt_h2::cli
