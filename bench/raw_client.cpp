// The raw-socket reference client: the physical limit wslat is measured against.
// Plain POSIX sockets and epoll, no library. One cycle = connect, write the upgrade request,
// read the 101, send one masked text frame, read its echo, send a close frame, read the
// server's close frame and EOF. It only checks for "101" (no Sec-WebSocket-Accept check):
// it is a yardstick, not a conforming client.
//
//   bench_raw_client --url ws://127.0.0.1:PORT/ --sequential N
//   bench_raw_client --url ws://127.0.0.1:PORT/ --concurrent C --cycles N
//   bench_raw_client --url ws://127.0.0.1:PORT/ --hold N
//
// Prints one JSON object on stdout (the schema shared with node_client.js and py_client.py).
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;

struct Options {
  std::string host = "127.0.0.1";
  std::uint16_t port = 0;
  std::string path = "/";
  std::string mode;  // sequential | concurrent | hold
  long count = 0;    // cycles (sequential, concurrent) or connections (hold)
  long concurrency = 1;
  std::string payload = "hello";
};

[[noreturn]] void die(const std::string& what) {
  std::fprintf(stderr, "bench_raw_client: %s\n", what.c_str());
  std::exit(2);
}

// Only ws://IPv4:PORT/path: the benchmark always targets loopback literals.
void parse_url(const std::string& url, Options& o) {
  const std::string scheme = "ws://";
  if (url.compare(0, scheme.size(), scheme) != 0) die("--url must start with ws://");
  const std::string rest = url.substr(scheme.size());
  const auto slash = rest.find('/');
  const std::string authority = rest.substr(0, slash);
  o.path = slash == std::string::npos ? "/" : rest.substr(slash);
  const auto colon = authority.rfind(':');
  if (colon == std::string::npos) die("--url needs an explicit port, e.g. ws://127.0.0.1:8080/");
  o.host = authority.substr(0, colon);
  o.port = static_cast<std::uint16_t>(std::stoul(authority.substr(colon + 1)));
}

Options parse_args(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) die(a + " needs a value");
      return argv[++i];
    };
    if (a == "--url") {
      parse_url(next(), o);
    } else if (a == "--sequential" || a == "--hold") {
      o.mode = a.substr(2);
      o.count = std::stol(next());
    } else if (a == "--concurrent") {
      o.mode = "concurrent";
      o.concurrency = std::stol(next());
    } else if (a == "--cycles") {
      o.count = std::stol(next());
    } else if (a == "--payload") {
      o.payload = next();
    } else {
      die("unknown argument " + a +
          " (usage: --url ws://127.0.0.1:PORT/ (--sequential N | --concurrent C --cycles N | "
          "--hold N) [--payload TEXT])");
    }
  }
  if (o.port == 0) die("--url ws://127.0.0.1:PORT/ is required");
  if (o.mode.empty() || o.count <= 0 || o.concurrency <= 0) die("a mode with a positive count");
  return o;
}

// Many sockets: lift the soft descriptor limit to the hard one.
void raise_fd_limit() {
  rlimit lim{};
  if (getrlimit(RLIMIT_NOFILE, &lim) == 0 && lim.rlim_cur < lim.rlim_max) {
    lim.rlim_cur = lim.rlim_max;
    setrlimit(RLIMIT_NOFILE, &lim);
  }
}

double ms_between(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double, std::milli>(b - a).count();
}

// ---- wire format -------------------------------------------------------------------------

std::string upgrade_request(const Options& o) {
  // A fixed key: the server does not care, and we do not verify the accept hash.
  return "GET " + o.path + " HTTP/1.1\r\nHost: " + o.host + ":" + std::to_string(o.port) +
         "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
         "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";
}

// A client frame is always masked (RFC 6455 5.3); a fresh key per frame as a real client.
std::string masked_frame(std::uint8_t opcode, const std::string& payload, std::mt19937& rng) {
  std::string f;
  f.push_back(static_cast<char>(0x80 | opcode));
  const std::size_t n = payload.size();
  if (n < 126) {
    f.push_back(static_cast<char>(0x80 | n));
  } else if (n < 65536) {
    f.push_back(static_cast<char>(0x80 | 126));
    f.push_back(static_cast<char>((n >> 8) & 0xff));
    f.push_back(static_cast<char>(n & 0xff));
  } else {
    f.push_back(static_cast<char>(0x80 | 127));
    for (int s = 56; s >= 0; s -= 8) f.push_back(static_cast<char>((n >> s) & 0xff));
  }
  const auto key = static_cast<std::uint32_t>(rng());
  char mask[4];
  std::memcpy(mask, &key, 4);
  f.append(mask, 4);
  for (std::size_t i = 0; i < n; ++i) f.push_back(static_cast<char>(payload[i] ^ mask[i % 4]));
  return f;
}

std::string close_payload() { return std::string("\x03\xe8", 2); }  // 1000, no reason

// One parsed server frame at the start of `buf`, or nothing yet.
struct Frame {
  std::uint8_t opcode = 0;
  std::string payload;
  std::size_t total = 0;  // bytes consumed from the buffer; 0 = incomplete
};

Frame parse_frame(const std::string& buf) {
  Frame fr;
  if (buf.size() < 2) return fr;
  const auto b0 = static_cast<std::uint8_t>(buf[0]);
  const auto b1 = static_cast<std::uint8_t>(buf[1]);
  std::size_t len = b1 & 0x7f;
  std::size_t pos = 2;
  if (len == 126) {
    if (buf.size() < 4) return fr;
    len = (static_cast<std::size_t>(static_cast<std::uint8_t>(buf[2])) << 8) |
          static_cast<std::uint8_t>(buf[3]);
    pos = 4;
  } else if (len == 127) {
    if (buf.size() < 10) return fr;
    len = 0;
    for (std::size_t i = 2; i < 10; ++i) len = (len << 8) | static_cast<std::uint8_t>(buf[i]);
    pos = 10;
  }
  const bool masked = (b1 & 0x80) != 0;  // servers must not mask; tolerate it anyway
  char mask[4] = {0, 0, 0, 0};
  if (masked) {
    if (buf.size() < pos + 4) return fr;
    std::memcpy(mask, buf.data() + pos, 4);
    pos += 4;
  }
  if (buf.size() < pos + len) return fr;
  fr.opcode = b0 & 0x0f;
  fr.payload = buf.substr(pos, len);
  if (masked) {
    for (std::size_t i = 0; i < len; ++i)
      fr.payload[i] = static_cast<char>(fr.payload[i] ^ mask[i % 4]);
  }
  fr.total = pos + len;
  return fr;
}

// Consumes the HTTP response head from `buf`: 1 = 101 parsed, 0 = need more, -1 = not a 101.
int parse_upgrade_response(std::string& buf) {
  const auto end = buf.find("\r\n\r\n");
  if (end == std::string::npos) return 0;
  const bool ok = buf.compare(0, 12, "HTTP/1.1 101") == 0;
  buf.erase(0, end + 4);
  return ok ? 1 : -1;
}

int open_socket(bool nonblocking) {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | (nonblocking ? SOCK_NONBLOCK : 0), 0);
  if (fd < 0) die(std::string("socket: ") + std::strerror(errno));
  const int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  return fd;
}

sockaddr_in target_address(const Options& o) {
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(o.port);
  if (inet_pton(AF_INET, o.host.c_str(), &sa.sin_addr) != 1) die("host must be an IPv4 literal");
  return sa;
}

// ---- statistics and output -----------------------------------------------------------------

double quantile(std::vector<double> v, double q) {
  if (v.empty()) return 0.0;
  std::sort(v.begin(), v.end());
  const auto idx = static_cast<std::size_t>(q * static_cast<double>(v.size() - 1) + 0.5);
  return v[std::min(idx, v.size() - 1)];
}

std::string summary_json(const std::vector<double>& v) {
  char buf[160];
  std::snprintf(buf, sizeof buf, R"({"count": %zu, "p50": %.4f, "p99": %.4f})", v.size(),
                quantile(v, 0.5), quantile(v, 0.99));
  return buf;
}

struct Samples {
  std::vector<double> handshake_ms, rtt_ms;
  long cycles = 0, errors = 0;
};

void print_result(const Options& o, const Samples& s, double seconds) {
  std::printf(
      "{\"client\": \"raw\", \"mode\": \"%s\", \"concurrency\": %ld, \"cycles\": %ld, "
      "\"errors\": %ld, \"duration_s\": %.6f, \"cycles_per_s\": %.2f, \"handshake_ms\": %s, "
      "\"rtt_ms\": %s}\n",
      o.mode.c_str(), o.concurrency, s.cycles, s.errors, seconds,
      seconds > 0 ? static_cast<double>(s.cycles) / seconds : 0.0,
      summary_json(s.handshake_ms).c_str(), summary_json(s.rtt_ms).c_str());
}

// ---- sequential: blocking sockets, one cycle after another ---------------------------------

bool write_all(int fd, const std::string& data) {
  std::size_t off = 0;
  while (off < data.size()) {
    const ssize_t n = ::write(fd, data.data() + off, data.size() - off);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    off += static_cast<std::size_t>(n);
  }
  return true;
}

// Appends what the socket has to `buf`; false on EOF or error.
bool read_some(int fd, std::string& buf) {
  char chunk[4096];
  for (;;) {
    const ssize_t n = ::read(fd, chunk, sizeof chunk);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    buf.append(chunk, static_cast<std::size_t>(n));
    return true;
  }
}

Frame read_frame(int fd, std::string& buf) {
  for (;;) {
    Frame fr = parse_frame(buf);
    if (fr.total > 0) {
      buf.erase(0, fr.total);
      return fr;
    }
    if (!read_some(fd, buf)) return fr;
  }
}

bool one_cycle(const Options& o, const sockaddr_in& sa, std::mt19937& rng, Samples& s) {
  const auto t0 = Clock::now();
  const int fd = open_socket(false);
  std::string buf;
  bool ok = connect(fd, reinterpret_cast<const sockaddr*>(&sa), sizeof sa) == 0 &&
            write_all(fd, upgrade_request(o));
  int head = 0;
  while (ok && (head = parse_upgrade_response(buf)) == 0) ok = read_some(fd, buf);
  ok = ok && head == 1;
  if (ok) {
    const auto t_open = Clock::now();
    ok = write_all(fd, masked_frame(0x1, o.payload, rng));
    const Frame echo = ok ? read_frame(fd, buf) : Frame{};
    const auto t_echo = Clock::now();
    ok = echo.total > 0 && echo.opcode == 0x1 && echo.payload == o.payload;
    if (ok) {
      s.handshake_ms.push_back(ms_between(t0, t_open));
      s.rtt_ms.push_back(ms_between(t_open, t_echo));
      write_all(fd, masked_frame(0x8, close_payload(), rng));
      // The server answers with its close frame and then closes TCP (it keeps TIME_WAIT).
      while (read_some(fd, buf)) buf.clear();
    }
  }
  ::close(fd);
  return ok;
}

// Each mode returns false when nothing succeeded (exit 3, as wslat's "could not run").
bool run_sequential(const Options& o) {
  const sockaddr_in sa = target_address(o);
  std::mt19937 rng(12345);
  Samples s;
  const auto start = Clock::now();
  for (long i = 0; i < o.count; ++i) {
    if (one_cycle(o, sa, rng, s)) {
      ++s.cycles;
    } else {
      ++s.errors;
    }
  }
  print_result(o, s, std::chrono::duration<double>(Clock::now() - start).count());
  return s.cycles > 0;
}

// ---- concurrent and hold: non-blocking sockets on one epoll --------------------------------

enum class Phase { kConnecting, kUpgrading, kEchoing, kClosing, kHeld, kIdle };

struct Conn {
  int fd = -1;
  Phase phase = Phase::kIdle;
  std::string in, out;
  Clock::time_point t0, t_open;
};

class Loop {
 public:
  Loop(const Options& o, bool hold) : o_(o), hold_(hold), sa_(target_address(o)), rng_(6789) {
    ep_ = epoll_create1(EPOLL_CLOEXEC);
    if (ep_ < 0) die("epoll_create1 failed");
    request_ = upgrade_request(o);
  }

  // Drives cycles (or opens) until `total` have finished; `width` in flight at once.
  // In hold mode every finished open keeps its slot, so there is one slot per connection and
  // a new slot is launched whenever a handshake completes.
  void run(long total, long width) {
    conns_.resize(static_cast<std::size_t>(hold_ ? total : width));
    for (long i = 0; i < width; ++i) start(conns_[static_cast<std::size_t>(next_slot_++)], total);
    std::vector<epoll_event> events(256);
    while (done_ + s_.errors < total) {
      const int n = epoll_wait(ep_, events.data(), static_cast<int>(events.size()), 10000);
      if (n < 0 && errno == EINTR) continue;
      if (n == 0) die("no progress for 10 s (server stuck?)");
      for (int i = 0; i < n; ++i) {
        Conn& c = conns_[events[static_cast<std::size_t>(i)].data.u64];
        on_ready(c, events[static_cast<std::size_t>(i)].events, total);
      }
    }
  }

  Samples& samples() { return s_; }
  long open_count() const { return done_; }
  void close_all() {
    for (auto& c : conns_) {
      if (c.fd >= 0) ::close(c.fd);
      c.fd = -1;
    }
  }

 private:
  void start(Conn& c, long total) {
    if (started_ >= total) return;
    ++started_;
    c = Conn{};
    c.t0 = Clock::now();
    c.fd = open_socket(true);
    c.phase = Phase::kConnecting;
    const int r = connect(c.fd, reinterpret_cast<const sockaddr*>(&sa_), sizeof sa_);
    if (r != 0 && errno != EINPROGRESS) {
      fail(c, total);
      return;
    }
    c.out = request_;
    epoll_event ev{};
    ev.events = EPOLLIN | EPOLLOUT;
    ev.data.u64 = static_cast<std::uint64_t>(&c - conns_.data());
    epoll_ctl(ep_, EPOLL_CTL_ADD, c.fd, &ev);
  }

  void fail(Conn& c, long total) {
    ++s_.errors;
    finish(c, total);
  }

  void finish(Conn& c, long total) {
    ::close(c.fd);  // also removes it from the epoll set
    c.fd = -1;
    c.phase = Phase::kIdle;
    start(c, total);
  }

  void want(Conn& c, std::uint32_t events) {
    epoll_event ev{};
    ev.events = events;
    ev.data.u64 = static_cast<std::uint64_t>(&c - conns_.data());
    epoll_ctl(ep_, EPOLL_CTL_MOD, c.fd, &ev);
  }

  // Writes what is pending; false on error. Asks for EPOLLOUT only while something is left.
  bool flush(Conn& c) {
    while (!c.out.empty()) {
      const ssize_t n = ::send(c.fd, c.out.data(), c.out.size(), MSG_NOSIGNAL);
      if (n < 0 && (errno == EAGAIN || errno == EINTR)) break;
      if (n <= 0) return false;
      c.out.erase(0, static_cast<std::size_t>(n));
    }
    want(c, c.out.empty() ? EPOLLIN : (EPOLLIN | EPOLLOUT));
    return true;
  }

  // Reads everything available; returns false on EOF or error.
  static bool drain(Conn& c) {
    char chunk[4096];
    for (;;) {
      const ssize_t n = ::read(c.fd, chunk, sizeof chunk);
      if (n > 0) {
        c.in.append(chunk, static_cast<std::size_t>(n));
        continue;
      }
      if (n < 0 && (errno == EAGAIN || errno == EINTR)) return true;
      return false;
    }
  }

  void on_ready(Conn& c, std::uint32_t events, long total) {
    if (c.fd < 0) return;
    if (c.phase == Phase::kConnecting) {
      int err = 0;
      socklen_t len = sizeof err;
      getsockopt(c.fd, SOL_SOCKET, SO_ERROR, &err, &len);
      if (err != 0 || (events & (EPOLLERR | EPOLLHUP)) != 0) return fail(c, total);
      c.phase = Phase::kUpgrading;
    }
    if (!c.out.empty() && !flush(c)) return fail(c, total);
    if (c.out.empty() && (events & EPOLLOUT) != 0) want(c, EPOLLIN);
    if ((events & EPOLLIN) == 0) return;
    const bool alive = drain(c);
    advance(c, total);
    if (!alive && c.fd >= 0) {
      // EOF is the normal end of the closing phase; anywhere else it is an error.
      if (c.phase == Phase::kClosing) {
        ++done_;
        ++s_.cycles;
        finish(c, total);
      } else {
        fail(c, total);
      }
    }
  }

  void advance(Conn& c, long total) {
    if (c.phase == Phase::kUpgrading) {
      const int head = parse_upgrade_response(c.in);
      if (head < 0) return fail(c, total);
      if (head == 0) return;
      c.t_open = Clock::now();
      s_.handshake_ms.push_back(ms_between(c.t0, c.t_open));
      if (hold_) {
        c.phase = Phase::kHeld;
        ++done_;
        if (next_slot_ < total) start(conns_[static_cast<std::size_t>(next_slot_++)], total);
        return;
      }
      c.phase = Phase::kEchoing;
      c.out = masked_frame(0x1, o_.payload, rng_);
      if (!flush(c)) return fail(c, total);
    }
    if (c.phase == Phase::kEchoing) {
      const Frame fr = parse_frame(c.in);
      if (fr.total == 0) return;
      c.in.erase(0, fr.total);
      if (fr.opcode != 0x1 || fr.payload != o_.payload) return fail(c, total);
      s_.rtt_ms.push_back(ms_between(c.t_open, Clock::now()));
      c.phase = Phase::kClosing;
      c.out = masked_frame(0x8, close_payload(), rng_);
      if (!flush(c)) return fail(c, total);
    }
    if (c.phase == Phase::kClosing) c.in.clear();  // the server's close frame, then EOF
  }

  const Options& o_;
  bool hold_;
  sockaddr_in sa_;
  std::mt19937 rng_;
  int ep_ = -1;
  std::string request_;
  std::vector<Conn> conns_;
  long started_ = 0, done_ = 0, next_slot_ = 0;
  Samples s_;
};

bool run_concurrent(const Options& o) {
  Loop loop(o, false);
  const auto start = Clock::now();
  loop.run(o.count, std::min(o.concurrency, o.count));
  print_result(o, loop.samples(), std::chrono::duration<double>(Clock::now() - start).count());
  return loop.samples().cycles > 0;
}

volatile std::sig_atomic_t g_stop = 0;
void on_signal(int) { g_stop = 1; }

constexpr long kHoldHandshakesInFlight = 500;  // the same in node_client.js and py_client.py

// Opens N connections (at most kHoldHandshakesInFlight handshakes at once, so the listen
// backlog never overflows), prints when all are open, then holds them until stdin reaches EOF
// or a signal arrives.
bool run_hold(Options o) {
  o.concurrency = std::min(o.count, kHoldHandshakesInFlight);
  Loop loop(o, true);
  const auto start = Clock::now();
  loop.run(o.count, o.concurrency);
  const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  std::printf(
      "{\"client\": \"raw\", \"mode\": \"hold\", \"open\": %ld, \"errors\": %ld, "
      "\"duration_s\": %.6f, \"handshake_ms\": %s}\n",
      loop.open_count(), loop.samples().errors, seconds,
      summary_json(loop.samples().handshake_ms).c_str());
  std::fflush(stdout);
  std::signal(SIGTERM, on_signal);
  std::signal(SIGINT, on_signal);
  char c;
  while (g_stop == 0) {
    pollfd p{0, POLLIN, 0};
    if (poll(&p, 1, 200) > 0 && ::read(0, &c, 1) <= 0) break;
  }
  loop.close_all();
  return loop.open_count() > 0;
}

}  // namespace

int main(int argc, char** argv) {
  const Options o = parse_args(argc, argv);
  raise_fd_limit();
  std::signal(SIGPIPE, SIG_IGN);
  bool ok = false;
  if (o.mode == "sequential") {
    ok = run_sequential(o);
  } else if (o.mode == "concurrent") {
    ok = run_concurrent(o);
  } else {
    ok = run_hold(o);
  }
  return ok ? 0 : 3;
}
