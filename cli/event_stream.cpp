#include "event_stream.hpp"

#include <algorithm>

namespace wslat::cli {

EventStream::EventStream(std::size_t max_clients,
                         std::function<std::string(const std::string&)> snapshot,
                         std::chrono::milliseconds heartbeat)
    : max_clients_(max_clients), snapshot_(std::move(snapshot)), heartbeat_(heartbeat) {}

std::string EventStream::frame(const std::string& name, const std::string& data) {
  return "event: " + name + "\ndata: " + data + "\n\n";
}

void EventStream::publish(const std::string& name, const std::string& data) {
  {
    const std::lock_guard<std::mutex> lock(mutex_);
    if (closed_) return;
    backlog_.emplace_back(next_seq_++, frame(name, data));
    while (backlog_.size() > kBacklog) backlog_.pop_front();
  }
  changed_.notify_all();
}

void EventStream::close() {
  {
    const std::lock_guard<std::mutex> lock(mutex_);
    closed_ = true;
  }
  changed_.notify_all();
}

std::shared_ptr<EventStream::Client> EventStream::subscribe(const std::string& key) {
  const std::lock_guard<std::mutex> lock(mutex_);
  if (closed_ || clients_ >= max_clients_) return nullptr;
  ++clients_;
  auto client = std::make_shared<Client>();
  client->key = key;
  // Events published from now on follow the snapshot (one published while the snapshot is
  // taken may be in both: the page skips a probe it already has).
  client->next = next_seq_;
  // "retry": how long a browser waits before it reconnects after the stream ends.
  client->pending = "retry: 2000\n\n";
  return client;
}

void EventStream::unsubscribe(Client& client) {
  const std::lock_guard<std::mutex> lock(mutex_);
  if (!client.subscribed) return;
  client.subscribed = false;
  --clients_;
}

std::size_t EventStream::clients() const {
  const std::lock_guard<std::mutex> lock(mutex_);
  return clients_;
}

std::size_t EventStream::read(Client& client, char* buf, std::size_t max) {
  std::unique_lock<std::mutex> lock(mutex_);
  for (;;) {
    if (!client.pending.empty()) {
      const std::size_t n = std::min(max, client.pending.size());
      client.pending.copy(buf, n);
      client.pending.erase(0, n);
      return n;
    }
    if (closed_) return 0;
    const bool missed = !backlog_.empty() && client.next < backlog_.front().first;
    if (client.needs_snapshot || missed) {
      client.needs_snapshot = false;
      client.next = next_seq_;
      lock.unlock();  // the snapshot takes the monitor's lock: never both at once
      std::string snap = frame("samples", snapshot_(client.key));
      lock.lock();
      client.pending += snap;
      continue;
    }
    if (!backlog_.empty() && client.next <= backlog_.back().first) {
      for (const auto& [seq, text] : backlog_) {
        if (seq >= client.next) client.pending += text;
      }
      client.next = backlog_.back().first + 1;
      continue;
    }
    const std::uint64_t seen = next_seq_;
    if (!changed_.wait_for(lock, heartbeat_, [&] { return closed_ || next_seq_ != seen; })) {
      client.pending = ": heartbeat\n\n";
    }
  }
}

}  // namespace wslat::cli
