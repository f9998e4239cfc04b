// Runs a fuzz input on a thread with a small stack: recursion that grows with the input (a
// scanner walking 50,000 nested arrays once crashed `validate`) then overflows at the input
// sizes libFuzzer tries (-max_len 16384), instead of hiding in the main thread's 8 MiB.
// 1 MiB still leaves room for what recursion is bounded (128 JSON levels) under ASan.
#pragma once

#include <pthread.h>

#include <cstddef>

namespace wslat::fuzz {

inline constexpr std::size_t kSmallStack = std::size_t{1} << 20;

template <class F>
void run_on_small_stack(F fn) {
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setstacksize(&attr, kSmallStack);
  pthread_t thread;
  auto entry = [](void* arg) -> void* {
    (*static_cast<F*>(arg))();
    return nullptr;
  };
  if (pthread_create(&thread, &attr, entry, &fn) != 0) __builtin_trap();
  pthread_attr_destroy(&attr);
  pthread_join(thread, nullptr);
}

}  // namespace wslat::fuzz
