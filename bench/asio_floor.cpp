// What Asio alone costs: the raw client's concurrent cycle (connect, upgrade request, the 101,
// one masked text frame and its echo, a close frame, the server's close frame and EOF) written
// on Asio's async operations and one io_context, as wslat's workers use them, with nothing of
// websocketpp nor of wslat's session. Measured against bench_raw_client in the same rounds, it
// says how much of wslat's overhead over the raw client is the event library and how much is
// what runs on top of it (bench/README.md, "What Asio alone costs"). Like the raw client it
// checks only for the 101's end and the echo's length: a yardstick, not a conforming client.
//
//   bench_asio_floor --url ws://127.0.0.1:PORT/ --concurrent C --cycles N
//
// Prints {"cycles": N, "errors": E, "duration_s": S, "cycles_per_s": R} on stdout.
#include <asio.hpp>

#include <array>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <random>
#include <string>
#include <string_view>
#include <vector>

namespace {

using asio::ip::tcp;

[[noreturn]] void die(const std::string& what) {
  std::fprintf(stderr, "bench_asio_floor: %s\n", what.c_str());
  std::exit(2);
}

struct Options {
  tcp::endpoint target;
  std::string host_port;
  long concurrency = 0;
  long cycles = 0;
};

Options parse_args(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (i + 1 >= argc) die(a + " needs a value");
    const std::string v = argv[++i];
    if (a == "--url") {
      const std::string scheme = "ws://";
      const auto colon = v.rfind(':');
      if (v.compare(0, scheme.size(), scheme) != 0 || colon == std::string::npos) {
        die("--url must be ws://IPV4:PORT/");
      }
      const std::string host = v.substr(scheme.size(), colon - scheme.size());
      const auto port = static_cast<std::uint16_t>(std::stoul(v.substr(colon + 1)));
      o.target = tcp::endpoint(asio::ip::make_address_v4(host), port);
      o.host_port = host + ":" + std::to_string(port);
    } else if (a == "--concurrent") {
      o.concurrency = std::stol(v);
    } else if (a == "--cycles") {
      o.cycles = std::stol(v);
    } else {
      die("unknown argument " + a +
          " (usage: --url ws://127.0.0.1:PORT/ --concurrent C --cycles N)");
    }
  }
  if (o.target.port() == 0 || o.concurrency <= 0 || o.cycles <= 0) {
    die("--url, --concurrent and --cycles are required (positive)");
  }
  return o;
}

class Loop;

// One slot of the concurrency: runs cycles one after the other on the same socket object.
class Slot {
 public:
  Slot(Loop& loop, asio::io_context& io) : loop_(loop), socket_(io) {}
  void start();

 private:
  enum class Phase { kUpgrade, kEcho, kClosing };
  void write(std::string bytes, Phase next);
  void read();
  void on_read(std::size_t n);
  void fail(const std::error_code& ec);
  void finish();

  Loop& loop_;
  tcp::socket socket_;
  Phase phase_ = Phase::kUpgrade;
  std::string out_;
  std::array<char, 2048> in_{};
  std::size_t have_ = 0;
};

class Loop {
 public:
  explicit Loop(const Options& o) : options(o) {
    request = "GET / HTTP/1.1\r\nHost: " + o.host_port +
              "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
              "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";
  }
  // A client frame is masked with a fresh key (RFC 6455 5.3), as the raw client does.
  std::string masked_frame(std::uint8_t opcode, std::string_view payload) {
    std::string f;
    f.push_back(static_cast<char>(0x80 | opcode));
    f.push_back(static_cast<char>(0x80 | payload.size()));  // < 126 bytes here
    const auto key = static_cast<std::uint32_t>(rng());
    char mask[4];
    std::memcpy(mask, &key, 4);
    f.append(mask, 4);
    for (std::size_t i = 0; i < payload.size(); ++i)
      f.push_back(static_cast<char>(payload[i] ^ mask[i % 4]));
    return f;
  }
  bool take_cycle() {
    if (started >= options.cycles) return false;
    ++started;
    return true;
  }

  const Options& options;
  asio::io_context io{1};
  std::string request;
  std::mt19937 rng{6789};
  long started = 0, done = 0, errors = 0;
};

void Slot::start() {
  if (!loop_.take_cycle()) return;
  phase_ = Phase::kUpgrade;
  have_ = 0;
  socket_.async_connect(loop_.options.target, [this](const std::error_code& ec) {
    if (ec) return fail(ec);
    socket_.set_option(tcp::no_delay(true));
    write(loop_.request, Phase::kUpgrade);
  });
}

void Slot::write(std::string bytes, Phase next) {
  out_ = std::move(bytes);
  phase_ = next;
  asio::async_write(socket_, asio::buffer(out_), [this](const std::error_code& ec, std::size_t) {
    if (ec) return fail(ec);
    read();
  });
}

void Slot::read() {
  socket_.async_read_some(asio::buffer(in_.data() + have_, in_.size() - have_),
                          [this](const std::error_code& ec, std::size_t n) {
                            if (ec == asio::error::eof && phase_ == Phase::kClosing) {
                              return finish();
                            }
                            if (ec) return fail(ec);
                            on_read(n);
                          });
}

void Slot::on_read(std::size_t n) {
  have_ += n;
  const std::string_view got(in_.data(), have_);
  switch (phase_) {
    case Phase::kUpgrade: {
      const auto end = got.find("\r\n\r\n");
      if (end == std::string_view::npos) return read();
      if (got.compare(0, 12, "HTTP/1.1 101") != 0) return fail(asio::error::invalid_argument);
      have_ = 0;
      return write(loop_.masked_frame(0x1, "hello"), Phase::kEcho);
    }
    case Phase::kEcho: {
      if (have_ < 7) return read();  // the echo: 2 header bytes and "hello"
      have_ = 0;
      const char code[2] = {0x03, static_cast<char>(0xE8)};  // 1000
      return write(loop_.masked_frame(0x8, std::string_view(code, 2)), Phase::kClosing);
    }
    case Phase::kClosing:
      have_ = 0;  // the server's close frame; then EOF
      return read();
  }
}

void Slot::fail(const std::error_code& ec) {
  if (++loop_.errors == 1) std::fprintf(stderr, "bench_asio_floor: %s\n", ec.message().c_str());
  finish();
}

void Slot::finish() {
  std::error_code ignored;
  socket_.close(ignored);
  ++loop_.done;
  start();
}

}  // namespace

int main(int argc, char** argv) {
  const Options o = parse_args(argc, argv);
  Loop loop(o);
  std::vector<std::unique_ptr<Slot>> slots;
  for (long i = 0; i < o.concurrency; ++i) slots.push_back(std::make_unique<Slot>(loop, loop.io));
  const auto t0 = std::chrono::steady_clock::now();
  for (auto& s : slots) s->start();
  loop.io.run();
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const long cycles = loop.done - loop.errors;
  std::printf("{\"cycles\": %ld, \"errors\": %ld, \"duration_s\": %.6f, \"cycles_per_s\": %.2f}\n",
              cycles, loop.errors, seconds,
              seconds > 0 ? static_cast<double>(cycles) / seconds : 0);
  return cycles > 0 ? 0 : 1;
}
