// Plain hand-written epoll echo server: the baseline a C/C++ programmer would write.
//
// One thread, non-blocking sockets, edge-triggered epoll. Every connection reads into one
// shared 64 KiB buffer and writes the bytes straight back. Only when the kernel takes fewer
// bytes than offered does a connection get a pending buffer (heap, freed once flushed); while
// it has one, reading from that connection stops (back-pressure) and resumes when the pending
// bytes are written. An idle connection costs one small slot in a vector indexed by fd.
//
// usage: epoll_echo_server --port P [--host 127.0.0.1]
#include "echo_common.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

namespace {

constexpr std::size_t kReadSize = 64 * 1024;
constexpr int kMaxEvents = 256;

struct connection {
  std::unique_ptr<char[]> pending;  // bytes the kernel did not take yet (null when none)
  std::uint32_t pending_begin = 0;
  std::uint32_t pending_end = 0;
  bool read_stalled = false;  // stopped reading because of pending bytes; resume after the flush
};

class server {
 public:
  server(const char* host, int port) {
    listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (listen_fd_ < 0) echo_bench::die("socket");
    int one = 1;
    ::setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<std::uint16_t>(port));
    if (::inet_pton(AF_INET, host, &addr.sin_addr) != 1) {
      std::fprintf(stderr, "bad --host %s\n", host);
      std::exit(2);
    }
    if (::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) echo_bench::die("bind");
    if (::listen(listen_fd_, SOMAXCONN) != 0) echo_bench::die("listen");

    epoll_fd_ = ::epoll_create1(EPOLL_CLOEXEC);
    if (epoll_fd_ < 0) echo_bench::die("epoll_create1");
    epoll_event ev{};
    ev.events = EPOLLIN;  // level-triggered: a backlog left by EMFILE is retried
    ev.data.fd = listen_fd_;
    if (::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, listen_fd_, &ev) != 0) echo_bench::die("epoll_ctl(listen)");
  }

  [[noreturn]] void run() {
    epoll_event events[kMaxEvents];
    for (;;) {
      int n = ::epoll_wait(epoll_fd_, events, kMaxEvents, -1);
      if (n < 0) {
        if (errno == EINTR) continue;
        echo_bench::die("epoll_wait");
      }
      for (int i = 0; i < n; ++i) {
        int fd = events[i].data.fd;
        if (fd == listen_fd_) {
          accept_all();
          continue;
        }
        std::uint32_t what = events[i].events;
        connection& c = conns_[static_cast<std::size_t>(fd)];
        if (what & (EPOLLERR | EPOLLHUP)) {
          close_connection(fd);
          continue;
        }
        if ((what & EPOLLOUT) && c.pending && !flush(fd, c)) {
          close_connection(fd);
          continue;
        }
        if ((what & EPOLLIN) || (c.read_stalled && !c.pending)) on_readable(fd, c);
      }
    }
  }

 private:
  void accept_all() {
    for (;;) {
      int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (fd < 0) {
        if (errno == EINTR || errno == ECONNABORTED) continue;
        if (errno != EAGAIN && !warned_accept_) {
          std::fprintf(stderr, "epoll_echo_server: accept4: %s\n", std::strerror(errno));
          warned_accept_ = true;
        }
        return;
      }
      int one = 1;
      ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
      if (static_cast<std::size_t>(fd) >= conns_.size()) conns_.resize(static_cast<std::size_t>(fd) + 1);
      conns_[static_cast<std::size_t>(fd)] = connection{};
      epoll_event ev{};
      ev.events = EPOLLIN | EPOLLOUT | EPOLLET;  // registered once; EPOLLOUT matters only with pending bytes
      ev.data.fd = fd;
      if (::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &ev) != 0) {
        std::fprintf(stderr, "epoll_echo_server: epoll_ctl(ADD): %s\n", std::strerror(errno));
        ::close(fd);
      }
    }
  }

  // Edge-triggered: read until the receive queue is drained. A short read means it was
  // drained (stream socket), so the EAGAIN read that would confirm it is skipped.
  void on_readable(int fd, connection& c) {
    c.read_stalled = false;
    while (!c.pending) {
      ssize_t r = ::recv(fd, buffer_.get(), kReadSize, 0);
      if (r > 0) {
        if (!write_back(fd, c, buffer_.get(), static_cast<std::size_t>(r))) {
          close_connection(fd);
          return;
        }
        if (static_cast<std::size_t>(r) < kReadSize) return;
        continue;
      }
      if (r < 0 && errno == EINTR) continue;
      if (r < 0 && errno == EAGAIN) return;
      close_connection(fd);  // EOF or error
      return;
    }
    c.read_stalled = true;  // leave the rest in the kernel until the pending bytes are out
  }

  bool write_back(int fd, connection& c, const char* data, std::size_t n) {
    std::size_t done = 0;
    while (done < n) {
      ssize_t w = ::send(fd, data + done, n - done, 0);
      if (w > 0) {
        done += static_cast<std::size_t>(w);
        continue;
      }
      if (w < 0 && errno == EINTR) continue;
      if (w < 0 && errno == EAGAIN) break;
      return false;
    }
    if (done < n) {
      c.pending = std::make_unique_for_overwrite<char[]>(n - done);
      std::memcpy(c.pending.get(), data + done, n - done);
      c.pending_begin = 0;
      c.pending_end = static_cast<std::uint32_t>(n - done);
    }
    return true;
  }

  bool flush(int fd, connection& c) {
    while (c.pending_begin < c.pending_end) {
      ssize_t w = ::send(fd, c.pending.get() + c.pending_begin, c.pending_end - c.pending_begin, 0);
      if (w > 0) {
        c.pending_begin += static_cast<std::uint32_t>(w);
        continue;
      }
      if (w < 0 && errno == EINTR) continue;
      if (w < 0 && errno == EAGAIN) return true;  // wait for the next EPOLLOUT edge
      return false;
    }
    c.pending.reset();
    c.pending_begin = c.pending_end = 0;
    return true;
  }

  void close_connection(int fd) {
    conns_[static_cast<std::size_t>(fd)] = connection{};
    ::close(fd);  // also removes it from the epoll set
  }

  int listen_fd_ = -1;
  int epoll_fd_ = -1;
  bool warned_accept_ = false;
  std::unique_ptr<char[]> buffer_ = std::make_unique_for_overwrite<char[]>(kReadSize);
  std::vector<connection> conns_;
};

}  // namespace

int main(int argc, char** argv) {
  echo_bench::args a(argc, argv, {"port", "host"}, "--port P [--host 127.0.0.1]");
  if (!a.has("port")) {
    std::fprintf(stderr, "usage: %s --port P [--host 127.0.0.1]\n", argv[0]);
    return 2;
  }
  ::signal(SIGPIPE, SIG_IGN);
  echo_bench::raise_nofile_limit();
  server s(a.str("host", "127.0.0.1").c_str(), static_cast<int>(a.integer("port", 0)));
  std::fprintf(stderr, "epoll_echo_server: listening on port %ld\n", a.integer("port", 0));
  s.run();
}
