// fastrt/error.hpp — the error half of fastrt::result.
//
// An error is an errno-compatible code plus a message. The message is either a
// string literal (stored as a pointer: no allocation) or an owned copy of
// runtime text (one allocation, made only when someone asks for it). The type
// is 16 bytes so that result<int> fits in 24.
//
// Thread-safety: a value type; distinct objects may be used from any threads.
#pragma once

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string_view>
#include <system_error>
#include <type_traits>
#include <concepts>
#include <utility>

namespace fastrt {

// Codes fastrt itself reports. They reuse errno values so that
// `err.code() == std::errc::operation_canceled` keeps working.
namespace errc {
inline constexpr std::errc canceled = std::errc::operation_canceled;
inline constexpr std::errc timed_out = std::errc::timed_out;
inline constexpr std::errc broken_promise = std::errc::broken_pipe;
}  // namespace errc

// A message known at compile time. Its constructor is consteval, so only a
// constant expression (in practice a string literal) converts to it: a
// pointer to a stack buffer cannot sneak in and dangle.
struct static_message {
  template <std::size_t N>
  consteval static_message(const char (&literal)[N]) noexcept : text(literal) {}
  const char* text;
};

template <class S>
concept runtime_text = std::convertible_to<S, std::string_view> &&
                       !std::is_array_v<std::remove_cvref_t<S>>;

class error {
 public:
  // Literal message: the pointer is kept, nothing is allocated.
  constexpr error(std::errc code, static_message message) noexcept
      : error(static_cast<int>(code), message) {}
  constexpr error(int errno_value, static_message message) noexcept
      : code_(errno_value), owned_(false), text_(message.text) {}
  // Only a code; message() is empty and print() shows strerror's text.
  constexpr explicit error(std::errc code) noexcept : error(code, "") {}

  // Runtime text: copied once onto the heap.
  template <runtime_text S>
  error(std::errc code, S&& text) : error(static_cast<int>(code), std::forward<S>(text)) {}
  template <runtime_text S>
  error(int errno_value, S&& text)
      : code_(errno_value), owned_(true), text_(copy(std::string_view(text))) {}

  // The current errno with a note on what failed ("bind 0.0.0.0:80").
  static error from_errno(std::string_view context) { return error(errno, context); }

  error(const error& other) : code_(other.code_), owned_(other.owned_) {
    text_ = owned_ ? copy(other.message()) : other.text_;
  }
  error(error&& other) noexcept
      : code_(other.code_), owned_(other.owned_), text_(other.text_) {
    other.owned_ = false;
    other.text_ = "";
  }
  error& operator=(error other) noexcept {
    swap(other);
    return *this;
  }
  ~error() {
    if (owned_) delete[] text_;
  }

  void swap(error& other) noexcept {
    std::swap(code_, other.code_);
    std::swap(owned_, other.owned_);
    std::swap(text_, other.text_);
  }

  // The raw errno-style value.
  int value() const noexcept { return code_; }
  std::errc code() const noexcept { return static_cast<std::errc>(code_); }
  std::error_code error_code() const noexcept { return {code_, std::generic_category()}; }
  std::string_view message() const noexcept { return text_; }
  bool owns_message() const noexcept { return owned_; }

  friend bool operator==(const error& e, std::errc c) noexcept { return e.code() == c; }

  // Writes "fastrt error <code> (<strerror>): <message>" to stderr. Used by the
  // checked accessors of result before they terminate.
  void print(std::FILE* to, const char* prefix) const noexcept {
    std::fprintf(to, "%s: error %d (%s): %.*s\n", prefix, code_, std::strerror(code_),
                 static_cast<int>(message().size()), message().data());
  }

 private:
  static const char* copy(std::string_view text) {
    char* buffer = new char[text.size() + 1];
    if (!text.empty()) std::memcpy(buffer, text.data(), text.size());
    buffer[text.size()] = '\0';
    return buffer;
  }

  int code_;
  bool owned_;
  const char* text_;
};

static_assert(sizeof(error) <= 16, "error must stay two words so result<int> fits in 24 bytes");

}  // namespace fastrt
