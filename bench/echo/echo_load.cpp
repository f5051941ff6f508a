// Echo load generator: one thread, epoll, non-blocking sockets. Independent of fastrt.
//
// Load mode (default):
//   echo_load --port P [--host 127.0.0.1] [--connections C] [--seconds S] [--warmup W]
//             [--size 128] [--pipeline 1]
//   Every connection keeps exactly `pipeline` messages of `size` bytes in flight: it sends a
//   message, waits for the complete echo, checks every byte, and sends the next one. Requests
//   completed during the `seconds` after the `warmup` are counted; latency (send of a message to
//   the arrival of its last echoed byte) goes into a log-linear histogram (≈3 % buckets).
//   Prints one line:
//     connections=C size=B pipeline=K seconds=S requests=N rps=R mean_us=.. p50_us=.. p90_us=..
//     p99_us=.. p999_us=.. max_us=.. errors=E client_cpu=U all_requests=M
//   client_cpu is this process's CPU time / wall time during the measured window (≈1.0 means
//   the load generator itself was saturated); all_requests counts the warm-up too (the driver
//   divides the server's CPU time over the whole client run by it). Exit status 1 when errors > 0.
//
// Idle mode:
//   echo_load --port P --idle C --hold S
//   Opens C connections, makes one echo round trip on each (so the server has accepted and
//   served every one), prints "connected=C errors=E", holds them S seconds, closes them and
//   prints "closed=C".
#include "echo_common.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <bit>
#include <chrono>
#include <cstdint>
#include <memory>
#include <thread>
#include <vector>

namespace {

using clock_type = std::chrono::steady_clock;

std::uint64_t now_ns() {
  return static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::nanoseconds>(clock_type::now().time_since_epoch()).count());
}

double cpu_seconds() {
  timespec ts{};
  ::clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

// Log-linear histogram of nanosecond values: exact below 64 ns, then 32 buckets per power of two.
class histogram {
 public:
  void record(std::uint64_t v) {
    ++counts_[index(v)];
    ++total_;
    sum_ += v;
    max_ = std::max(max_, v);
  }
  void clear() { *this = histogram{}; }
  std::uint64_t total() const { return total_; }
  double mean() const { return total_ ? static_cast<double>(sum_) / static_cast<double>(total_) : 0.0; }
  std::uint64_t max() const { return max_; }

  // Midpoint of the bucket holding the q-quantile.
  double quantile(double q) const {
    if (total_ == 0) return 0.0;
    auto rank = static_cast<std::uint64_t>(q * static_cast<double>(total_ - 1)) + 1;
    std::uint64_t seen = 0;
    for (std::size_t i = 0; i < counts_.size(); ++i) {
      seen += counts_[i];
      if (seen >= rank) {
        auto [lo, hi] = bounds(i);
        return std::min(static_cast<double>(max_), (static_cast<double>(lo) + static_cast<double>(hi)) / 2.0);
      }
    }
    return static_cast<double>(max_);
  }

 private:
  static constexpr std::size_t kBuckets = 64 + 58 * 32;

  static std::size_t index(std::uint64_t v) {
    if (v < 64) return static_cast<std::size_t>(v);
    unsigned shift = static_cast<unsigned>(std::bit_width(v)) - 6;  // v >> shift is in [32, 64)
    return std::min<std::size_t>(kBuckets - 1, 64 + (shift - 1) * 32 + static_cast<std::size_t>((v >> shift) - 32));
  }
  static std::pair<std::uint64_t, std::uint64_t> bounds(std::size_t i) {
    if (i < 64) return {i, i};
    std::size_t shift = (i - 64) / 32 + 1;
    std::uint64_t top = (i - 64) % 32 + 32;
    return {top << shift, ((top + 1) << shift) - 1};
  }

  std::array<std::uint64_t, kBuckets> counts_{};
  std::uint64_t total_ = 0;
  std::uint64_t sum_ = 0;
  std::uint64_t max_ = 0;
};

struct connection {
  int fd = -1;
  std::uint32_t next_send = 0;      // sequence number of the next message to send
  std::uint32_t next_receive = 0;   // sequence number of the message being received
  std::uint32_t rx_fill = 0;        // bytes of that message received so far
  std::uint32_t tx_begin = 0;       // unsent bytes are tx[tx_begin, tx.size())
  bool want_out = false;            // registered for EPOLLOUT (a write was partial)
  std::vector<char> rx;             // the message being assembled
  std::vector<char> tx;             // bytes not yet taken by the kernel
  std::vector<std::uint64_t> sent_at;  // ring of send timestamps, one per in-flight message
};

struct options {
  std::string host;
  int port = 0;
  int connections = 1;
  double seconds = 5.0;
  double warmup = 0.0;
  std::size_t size = 128;
  int pipeline = 1;
  int idle = 0;
  double hold = 0.0;
};

class load {
 public:
  explicit load(const options& o) : o_(o), filler_(o.size) {
    for (std::size_t i = 0; i < filler_.size(); ++i) filler_[i] = static_cast<char>((i * 131 + 17) & 0xff);
    epoll_fd_ = ::epoll_create1(EPOLL_CLOEXEC);
    if (epoll_fd_ < 0) echo_bench::die("epoll_create1");
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<std::uint16_t>(o.port));
    if (::inet_pton(AF_INET, o.host.c_str(), &addr.sin_addr) != 1) {
      std::fprintf(stderr, "bad --host %s\n", o.host.c_str());
      std::exit(2);
    }
    addr_ = addr;
  }

  // Connects `count` sockets, at most kConnectBatch handshakes at a time.
  void connect_all(int count) {
    constexpr int kConnectBatch = 256;
    int ep = ::epoll_create1(EPOLL_CLOEXEC);
    if (ep < 0) echo_bench::die("epoll_create1");
    conns_.reserve(static_cast<std::size_t>(count));
    for (int first = 0; first < count; first += kConnectBatch) {
      int last = std::min(count, first + kConnectBatch);
      int waiting = 0;
      std::vector<bool> connecting(static_cast<std::size_t>(last - first));
      for (int i = first; i < last; ++i) {
        int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0) echo_bench::die("socket (raise ulimit -n?)");
        int one = 1;
        ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        connection c;
        c.fd = fd;
        c.rx.resize(o_.size);
        c.sent_at.resize(static_cast<std::size_t>(o_.pipeline));
        conns_.push_back(std::move(c));
        ++open_;
        if (::connect(fd, reinterpret_cast<const sockaddr*>(&addr_), sizeof addr_) == 0) continue;
        if (errno != EINPROGRESS) {
          std::fprintf(stderr, "echo_load: connect: %s\n", std::strerror(errno));
          fail(conns_.back());
          continue;
        }
        epoll_event ev{};
        ev.events = EPOLLOUT;
        ev.data.u32 = static_cast<std::uint32_t>(i);
        if (::epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) != 0) echo_bench::die("epoll_ctl(connect)");
        connecting[static_cast<std::size_t>(i - first)] = true;
        ++waiting;
      }
      auto deadline = now_ns() + 15'000'000'000ull;
      epoll_event events[256];
      while (waiting > 0) {
        auto now = now_ns();
        if (now >= deadline) {
          std::fprintf(stderr, "echo_load: %d connects timed out\n", waiting);
          for (int i = first; i < last; ++i)
            if (connecting[static_cast<std::size_t>(i - first)]) fail(conns_[static_cast<std::size_t>(i)]);
          break;
        }
        int n = ::epoll_wait(ep, events, 256, static_cast<int>((deadline - now) / 1'000'000 + 1));
        if (n < 0 && errno != EINTR) echo_bench::die("epoll_wait(connect)");
        for (int k = 0; k < n; ++k) {
          connection& c = conns_[events[k].data.u32];
          connecting[events[k].data.u32 - static_cast<std::uint32_t>(first)] = false;
          ::epoll_ctl(ep, EPOLL_CTL_DEL, c.fd, nullptr);
          --waiting;
          int err = 0;
          socklen_t len = sizeof err;
          ::getsockopt(c.fd, SOL_SOCKET, SO_ERROR, &err, &len);
          if (err != 0) {
            std::fprintf(stderr, "echo_load: connect: %s\n", std::strerror(err));
            fail(c);
          }
        }
      }
    }
    ::close(ep);
    for (std::size_t i = 0; i < conns_.size(); ++i) {
      if (conns_[i].fd < 0) continue;
      epoll_event ev{};
      ev.events = EPOLLIN;
      ev.data.u32 = static_cast<std::uint32_t>(i);
      if (::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, conns_[i].fd, &ev) != 0) echo_bench::die("epoll_ctl(ADD)");
    }
  }

  int run_load() {
    connect_all(o_.connections);
    const std::uint64_t start = now_ns();
    const std::uint64_t measure_from = start + static_cast<std::uint64_t>(o_.warmup * 1e9);
    const std::uint64_t measure_to = measure_from + static_cast<std::uint64_t>(o_.seconds * 1e9);
    for (auto& c : conns_) {
      if (c.fd < 0) continue;
      for (int k = 0; k < o_.pipeline; ++k) queue_message(c, start);
      send_pending(c);
    }
    bool measuring = o_.warmup <= 0;
    double cpu_start = cpu_seconds();
    std::uint64_t wall_start = start;
    while (open_ > 0) {
      std::uint64_t now = now_ns();
      if (!measuring && now >= measure_from) {
        measuring = true;
        hist_.clear();
        cpu_start = cpu_seconds();
        wall_start = now;
      }
      if (now >= measure_to) break;
      std::uint64_t next = measuring ? measure_to : measure_from;
      poll(static_cast<int>((next - now) / 1'000'000 + 1), true);
    }
    const std::uint64_t wall_end = now_ns();
    const double cpu = cpu_seconds() - cpu_start;
    const double wall = static_cast<double>(wall_end - wall_start) * 1e-9;
    const double secs = std::max(wall, 1e-9);
    std::printf(
        "connections=%d size=%zu pipeline=%d seconds=%.3f requests=%llu rps=%.0f mean_us=%.1f p50_us=%.1f "
        "p90_us=%.1f p99_us=%.1f p999_us=%.1f max_us=%.1f errors=%llu client_cpu=%.2f all_requests=%llu\n",
        o_.connections, o_.size, o_.pipeline, wall, static_cast<unsigned long long>(hist_.total()),
        static_cast<double>(hist_.total()) / secs, hist_.mean() / 1e3, hist_.quantile(0.5) / 1e3,
        hist_.quantile(0.9) / 1e3, hist_.quantile(0.99) / 1e3, hist_.quantile(0.999) / 1e3,
        static_cast<double>(hist_.max()) / 1e3, static_cast<unsigned long long>(errors_), cpu / secs,
        static_cast<unsigned long long>(all_requests_));
    std::fflush(stdout);
    close_all();
    return errors_ == 0 && hist_.total() > 0 ? 0 : 1;
  }

  int run_idle() {
    connect_all(o_.idle);
    // One round trip on every connection: proves the server accepted and served each one.
    std::uint64_t start = now_ns();
    for (auto& c : conns_) {
      if (c.fd < 0) continue;
      queue_message(c, start);
      send_pending(c);
    }
    const std::uint64_t deadline = start + 30'000'000'000ull;
    while (hist_.total() + errors_ < static_cast<std::uint64_t>(o_.idle) && now_ns() < deadline) poll(100, false);
    std::printf("connected=%llu errors=%llu\n", static_cast<unsigned long long>(hist_.total()),
                static_cast<unsigned long long>(errors_));
    std::fflush(stdout);
    std::this_thread::sleep_for(std::chrono::duration<double>(o_.hold));
    close_all();
    std::printf("closed=%d\n", o_.idle);
    std::fflush(stdout);
    return errors_ == 0 ? 0 : 1;
  }

 private:
  void poll(int timeout_ms, bool keep_sending) {
    epoll_event events[512];
    int n = ::epoll_wait(epoll_fd_, events, 512, timeout_ms);
    if (n < 0) {
      if (errno == EINTR) return;
      echo_bench::die("epoll_wait");
    }
    const std::uint64_t now = now_ns();  // one timestamp per batch of events
    for (int i = 0; i < n; ++i) {
      connection& c = conns_[events[i].data.u32];
      if (c.fd < 0) continue;
      if (events[i].events & EPOLLOUT) {
        send_pending(c);
        if (c.fd < 0) continue;
      }
      if (events[i].events & (EPOLLIN | EPOLLERR | EPOLLHUP)) on_readable(c, now, keep_sending);
    }
  }

  void on_readable(connection& c, std::uint64_t now, bool keep_sending) {
    // Read at most what is in flight: the server never sends more than we sent.
    std::size_t in_flight = static_cast<std::size_t>(c.next_send - c.next_receive) * o_.size - c.rx_fill;
    if (in_flight == 0) {
      char probe;
      ssize_t r = ::recv(c.fd, &probe, 1, 0);
      if (r < 0 && errno == EAGAIN) return;
      std::fprintf(stderr, "echo_load: %s while nothing was in flight\n", r > 0 ? "unexpected bytes" : "EOF/error");
      fail(c);
      return;
    }
    std::size_t want = std::min(in_flight, rx_buffer_.size());
    ssize_t r = ::recv(c.fd, rx_buffer_.data(), want, 0);
    if (r <= 0) {
      if (r < 0 && (errno == EAGAIN || errno == EINTR)) return;
      std::fprintf(stderr, "echo_load: %s\n", r == 0 ? "server closed the connection" : std::strerror(errno));
      fail(c);
      return;
    }
    const char* p = rx_buffer_.data();
    std::size_t left = static_cast<std::size_t>(r);
    while (left > 0) {
      std::size_t take = std::min(left, o_.size - c.rx_fill);
      std::memcpy(c.rx.data() + c.rx_fill, p, take);
      c.rx_fill += static_cast<std::uint32_t>(take);
      p += take;
      left -= take;
      if (c.rx_fill < o_.size) break;
      // A full message: check it, time it, send the next.
      fill_message(scratch_.data(), c, c.next_receive);
      if (std::memcmp(scratch_.data(), c.rx.data(), o_.size) != 0) {
        std::fprintf(stderr, "echo_load: echoed bytes differ from the message sent\n");
        fail(c);
        return;
      }
      hist_.record(now - c.sent_at[c.next_receive % static_cast<std::uint32_t>(o_.pipeline)]);
      ++all_requests_;
      ++c.next_receive;
      c.rx_fill = 0;
      if (keep_sending) queue_message(c, now);
    }
    send_pending(c);
  }

  void fill_message(char* out, const connection& c, std::uint32_t seq) const {
    std::memcpy(out, filler_.data(), o_.size);
    auto id = static_cast<std::uint32_t>(&c - conns_.data());
    std::uint32_t header[2] = {id, seq};
    std::memcpy(out, header, std::min(o_.size, sizeof header));
    if (o_.size > sizeof header) out[o_.size - 1] = static_cast<char>(seq * 7 + id);
  }

  void queue_message(connection& c, std::uint64_t now) {
    std::size_t at = c.tx.size();
    c.tx.resize(at + o_.size);
    fill_message(c.tx.data() + at, c, c.next_send);
    c.sent_at[c.next_send % static_cast<std::uint32_t>(o_.pipeline)] = now;
    ++c.next_send;
  }

  void send_pending(connection& c) {
    while (c.tx_begin < c.tx.size()) {
      ssize_t w = ::send(c.fd, c.tx.data() + c.tx_begin, c.tx.size() - c.tx_begin, MSG_NOSIGNAL);
      if (w > 0) {
        c.tx_begin += static_cast<std::uint32_t>(w);
        continue;
      }
      if (w < 0 && errno == EINTR) continue;
      if (w < 0 && errno == EAGAIN) {
        if (!c.want_out) set_out(c, true);
        return;
      }
      std::fprintf(stderr, "echo_load: send: %s\n", std::strerror(errno));
      fail(c);
      return;
    }
    c.tx.clear();
    c.tx_begin = 0;
    if (c.want_out) set_out(c, false);
  }

  void set_out(connection& c, bool on) {
    epoll_event ev{};
    ev.events = EPOLLIN | (on ? EPOLLOUT : 0u);
    ev.data.u32 = static_cast<std::uint32_t>(&c - conns_.data());
    ::epoll_ctl(epoll_fd_, EPOLL_CTL_MOD, c.fd, &ev);
    c.want_out = on;
  }

  void fail(connection& c) {
    ++errors_;
    if (c.fd >= 0) {
      ::close(c.fd);
      c.fd = -1;
      --open_;
    }
  }

  void close_all() {
    for (auto& c : conns_) {
      if (c.fd >= 0) ::close(c.fd);
      c.fd = -1;
    }
    open_ = 0;
  }

  options o_;
  std::vector<char> filler_;
  std::vector<char> scratch_ = std::vector<char>(o_.size);
  std::vector<char> rx_buffer_ = std::vector<char>(64 * 1024);
  sockaddr_in addr_{};
  int epoll_fd_ = -1;
  int open_ = 0;
  std::uint64_t errors_ = 0;
  std::uint64_t all_requests_ = 0;  // including the warm-up
  std::vector<connection> conns_;
  histogram hist_;
};

}  // namespace

int main(int argc, char** argv) {
  const char* usage =
      "--port P [--host 127.0.0.1] [--connections C] [--seconds S] [--warmup W] [--size 128] [--pipeline 1]\n"
      "       | --port P --idle C --hold S";
  echo_bench::args a(argc, argv, {"host", "port", "connections", "seconds", "warmup", "size", "pipeline", "idle", "hold"},
                     usage);
  options o;
  o.host = a.str("host", "127.0.0.1");
  o.port = static_cast<int>(a.integer("port", 0));
  o.connections = static_cast<int>(a.integer("connections", 1));
  o.seconds = a.real("seconds", 5.0);
  o.warmup = a.real("warmup", 0.0);
  o.size = static_cast<std::size_t>(a.integer("size", 128));
  o.pipeline = static_cast<int>(a.integer("pipeline", 1));
  o.idle = static_cast<int>(a.integer("idle", 0));
  o.hold = a.real("hold", 0.0);
  if (o.port <= 0 || o.port > 65535 || o.connections < 1 || o.seconds <= 0 || o.warmup < 0 || o.size < 1 ||
      o.size > (1u << 20) || o.pipeline < 1 || o.idle < 0 || o.hold < 0) {
    std::fprintf(stderr, "usage: %s %s\n", argv[0], usage);
    return 2;
  }
  ::signal(SIGPIPE, SIG_IGN);
  rlim_t limit = echo_bench::raise_nofile_limit();
  const int needed = (o.idle > 0 ? o.idle : o.connections) + 16;
  if (limit < static_cast<rlim_t>(needed)) {
    std::fprintf(stderr, "echo_load: RLIMIT_NOFILE hard limit %llu is below the %d descriptors needed\n",
                 static_cast<unsigned long long>(limit), needed);
    return 2;
  }
  load l(o);
  return o.idle > 0 ? l.run_idle() : l.run_load();
}
