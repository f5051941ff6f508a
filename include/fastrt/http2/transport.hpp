// transport.hpp — the byte stream a connection runs over: the seam where a
// TLS stream (or any other) takes the place of a plain TCP socket without
// the HTTP/2 code changing. fastrt::tcp_stream is the transport fastrt-h2
// uses; basic_connection<T> takes any type that models `transport`.
//
//   co_await t.recv()        result<chunk>: chunk.text() is the bytes read,
//                            chunk.empty() means the peer half-closed (EOF)
//   co_await t.send(bytes)   result<...>: all of `bytes` went out, or an error;
//                            the awaiter may be non-movable (awaited in place);
//                            the transport copies the bytes before suspending
//   t.shutdown(SHUT_WR | SHUT_RDWR)   result<void>; pending sends fail at once on RDWR
//   t.close()                no more I/O; idempotent
//
// A stop request on a coroutine waiting in recv() or send() must end the
// wait with errc::canceled (the connection stops its reader that way).
//
// Thread-safety: a transport belongs to its connection's io thread.
// Cost: whatever the transport costs; the concept adds nothing.
#pragma once

#include <sys/socket.h>

#include <concepts>
#include <string_view>


namespace fastrt::http2 {

template <class T>
concept transport = requires(T& t, std::string& bytes) {
  { t.recv().await_resume()->text() } -> std::convertible_to<std::string_view>;
  { t.recv().await_resume()->empty() } -> std::convertible_to<bool>;
  { t.send(bytes).await_resume().has_value() } -> std::convertible_to<bool>;
  { t.shutdown(SHUT_WR).has_value() } -> std::convertible_to<bool>;
  t.close();
};

}  // namespace fastrt::http2
