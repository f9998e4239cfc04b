// One timer per worker for the phase deadlines of all its sessions (Deadlines), instead of one
// asio::steady_timer per session armed and cancelled at every phase. Included only by
// lib/net/transport_for.hpp (through session.hpp and worker.hpp).
#pragma once

#include <cstddef>
#include <cstdint>
#include <utility>
#include <vector>

#include <asio/io_context.hpp>
#include <asio/steady_timer.hpp>

#include "net/engine.hpp"

namespace wslat::net {

class Deadlines;

// Something with at most one deadline at a time in its worker's Deadlines.
class Deadlined {
 public:
  // The deadline passed. It is out of the queue already: setting a new one is allowed.
  virtual void on_deadline() = 0;
  bool has_deadline() const { return slot_ != kNone; }

 protected:
  Deadlined() = default;
  Deadlined(const Deadlined&) = delete;
  Deadlined& operator=(const Deadlined&) = delete;
  ~Deadlined() = default;

 private:
  friend class Deadlines;
  static constexpr std::size_t kNone = ~std::size_t{0};
  std::size_t slot_ = kNone;  // index in Deadlines::heap_
  TimePoint at_{};
};

// A binary min-heap of deadlines (each entry knows its index, so setting and cancelling are
// O(log n) and leave no stale entries behind) and one steady_timer armed at the earliest.
// Cancelling costs no Asio operation at all: the timer is moved only when a deadline earlier
// than the one it waits for is set; when it fires with nothing due (the deadline it was armed
// for was cancelled or moved later) it re-arms for the new earliest. A deadline is removed
// before its on_deadline runs, and a cancelled one is gone from the heap, so a phase that
// completed can never see its timeout fire afterwards (no generations needed). Single-threaded:
// the worker's thread only.
class Deadlines {
 public:
  explicit Deadlines(asio::io_context& io) : timer_(io) {}
  Deadlines(const Deadlines&) = delete;
  Deadlines& operator=(const Deadlines&) = delete;
  // Objects still queued outlive the queue only while a worker is torn down: forget them.
  ~Deadlines() {
    for (Deadlined* d : heap_) d->slot_ = Deadlined::kNone;
  }

  // Sets (or moves) d's deadline to `at`.
  void set(Deadlined& d, TimePoint at) {
    d.at_ = at;
    if (d.slot_ == Deadlined::kNone) {
      d.slot_ = heap_.size();
      heap_.push_back(&d);
      sift_up(d.slot_);
    } else {
      sift_down(sift_up(d.slot_));
    }
    wake_by(at);
  }

  void cancel(Deadlined& d) {
    const std::size_t slot = d.slot_;
    if (slot == Deadlined::kNone) return;
    d.slot_ = Deadlined::kNone;
    Deadlined* last = heap_.back();
    heap_.pop_back();
    if (last == &d) return;
    place(last, slot);
    sift_down(sift_up(slot));
  }

  std::size_t size() const { return heap_.size(); }

 private:
  static bool earlier(const Deadlined* a, const Deadlined* b) { return a->at_ < b->at_; }

  void place(Deadlined* d, std::size_t slot) {
    heap_[slot] = d;
    d->slot_ = slot;
  }

  std::size_t sift_up(std::size_t i) {
    Deadlined* d = heap_[i];
    while (i > 0) {
      const std::size_t parent = (i - 1) / 2;
      if (!earlier(d, heap_[parent])) break;
      place(heap_[parent], i);
      i = parent;
    }
    place(d, i);
    return i;
  }

  void sift_down(std::size_t i) {
    Deadlined* d = heap_[i];
    const std::size_t n = heap_.size();
    for (;;) {
      std::size_t child = 2 * i + 1;
      if (child >= n) break;
      if (child + 1 < n && earlier(heap_[child + 1], heap_[child])) ++child;
      if (!earlier(heap_[child], d)) break;
      place(heap_[child], i);
      i = child;
    }
    place(d, i);
  }

  // Makes sure the timer fires no later than `at`.
  void wake_by(TimePoint at) {
    if (at >= armed_at_) return;
    armed_at_ = at;
    timer_.expires_at(at);  // a wait for a later time is cancelled (its handler is void)
    const std::uint64_t wait = ++wait_;
    timer_.async_wait([this, wait](const asio::error_code& ec) {
      if (ec || wait != wait_) return;  // cancelled, or expired but replaced before it ran
      expire();
    });
  }

  void expire() {
    armed_at_ = TimePoint::max();
    const TimePoint now = Clock::now();
    while (!heap_.empty() && heap_.front()->at_ <= now) {
      Deadlined* d = heap_.front();
      cancel(*d);
      d->on_deadline();  // may set deadlines (its own included) or cancel others
    }
    if (!heap_.empty()) wake_by(heap_.front()->at_);
  }

  asio::steady_timer timer_;
  std::vector<Deadlined*> heap_;
  TimePoint armed_at_ = TimePoint::max();  // when the timer's live wait fires; max: none
  std::uint64_t wait_ = 0;                 // the live wait's number
};

}  // namespace wslat::net
