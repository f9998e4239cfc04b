// Server-sent events for the live dashboard of `wslat monitor` (GET /api/events, docs/monitoring.md
// "Dashboard"): the monitor publishes one event per probe; every subscribed client first gets a
// snapshot (the whole of /api/samples), then each event as it is published. Bounded: at most
// `max_clients` subscribers (more are refused), the newest `kBacklog` events kept; a client that
// falls further behind gets a fresh snapshot instead of the events it missed.
//
// libmicrohttpd runs a thread per connection, so a client's read waits on a condition variable
// in its own thread: for an event, for close() (shutdown) or for the heartbeat period (then it
// sends an SSE comment, which keeps the connection from looking idle).
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <utility>

namespace wslat::cli {

class EventStream {
 public:
  static constexpr std::size_t kBacklog = 64;

  // `snapshot(key)` returns the data of a "samples" event (one line of JSON) for a client that
  // subscribed with `key` (the dashboard's target); it is called without the stream's lock held.
  EventStream(std::size_t max_clients, std::function<std::string(const std::string&)> snapshot,
              std::chrono::milliseconds heartbeat = std::chrono::seconds(5));

  // "event: NAME\ndata: DATA\n\n" to every subscriber; DATA must be one line.
  void publish(const std::string& name, const std::string& data);
  // Every subscriber's stream ends (after what it already has); no new subscribers. Idempotent.
  void close();

  class Client;
  // A new subscriber, or nullptr when max_clients are subscribed or the stream is closed.
  std::shared_ptr<Client> subscribe(const std::string& key = "");
  // Up to `max` bytes of the client's stream into `buf`: waits for something to send; 0 when the
  // stream has ended (close()).
  std::size_t read(Client& client, char* buf, std::size_t max);
  void unsubscribe(Client& client);

  std::size_t clients() const;
  std::size_t max_clients() const { return max_clients_; }

 private:
  static std::string frame(const std::string& name, const std::string& data);

  const std::size_t max_clients_;
  const std::function<std::string(const std::string&)> snapshot_;
  const std::chrono::milliseconds heartbeat_;
  mutable std::mutex mutex_;
  std::condition_variable changed_;
  bool closed_ = false;
  std::size_t clients_ = 0;
  std::uint64_t next_seq_ = 0;                                 // of the next published event
  std::deque<std::pair<std::uint64_t, std::string>> backlog_;  // framed, oldest first
};

class EventStream::Client {
 private:
  friend class EventStream;
  std::string key;         // passed to the snapshot
  std::string pending;     // framed bytes not yet handed to libmicrohttpd
  std::uint64_t next = 0;  // the sequence number of the next event it needs
  bool needs_snapshot = true;
  bool subscribed = true;
};

}  // namespace wslat::cli
