// A counting allocator for the per-cycle figures of bench/run.sh --counts (bench/README.md).
// Loaded with LD_PRELOAD, it interposes malloc and friends, forwards each call to glibc's own
// implementation (__libc_malloc & co., so no dlsym bootstrap is needed) and, when the process
// exits, writes one line to the file named by $BENCH_COUNT_ALLOC_OUT (stderr if unset):
//
//   count_alloc allocs=N frees=N reallocs=N bytes=N
//
// allocs counts malloc, calloc, memalign, posix_memalign, aligned_alloc, valloc, pvalloc and
// realloc(NULL, n); frees counts free of a non-null pointer and realloc(p, 0); reallocs counts
// realloc of a live pointer to a new size; bytes sums the sizes requested. libstdc++'s
// operator new and delete call malloc and free, so C++ allocations are counted too.
// Counts cover every thread of the process (relaxed atomics: only the totals matter).
#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <cstring>

extern "C" {
void* __libc_malloc(std::size_t size);
void* __libc_calloc(std::size_t n, std::size_t size);
void* __libc_realloc(void* ptr, std::size_t size);
void* __libc_memalign(std::size_t alignment, std::size_t size);
void* __libc_valloc(std::size_t size);
void* __libc_pvalloc(std::size_t size);
void __libc_free(void* ptr);
}

namespace {

std::atomic<unsigned long long> g_allocs{0};
std::atomic<unsigned long long> g_frees{0};
std::atomic<unsigned long long> g_reallocs{0};
std::atomic<unsigned long long> g_bytes{0};

void counted(std::size_t size) {
  g_allocs.fetch_add(1, std::memory_order_relaxed);
  g_bytes.fetch_add(size, std::memory_order_relaxed);
}

// Runs at exit (also after main returns); writes with plain syscalls, allocating nothing.
__attribute__((destructor)) void report() {
  char line[160];
  const int n = std::snprintf(line, sizeof line,
                              "count_alloc allocs=%llu frees=%llu reallocs=%llu bytes=%llu\n",
                              g_allocs.load(), g_frees.load(), g_reallocs.load(), g_bytes.load());
  if (n <= 0) return;
  const char* path = std::getenv("BENCH_COUNT_ALLOC_OUT");
  int fd = 2;
  if (path != nullptr && *path != '\0')
    fd = ::open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return;
  const ssize_t written = ::write(fd, line, static_cast<std::size_t>(n));
  (void)written;
  if (fd != 2) ::close(fd);
}

}  // namespace

extern "C" {

void* malloc(std::size_t size) {
  counted(size);
  return __libc_malloc(size);
}

void* calloc(std::size_t n, std::size_t size) {
  counted(n * size);
  return __libc_calloc(n, size);
}

void* realloc(void* ptr, std::size_t size) {
  if (ptr == nullptr) {
    counted(size);
  } else if (size == 0) {
    g_frees.fetch_add(1, std::memory_order_relaxed);
  } else {
    g_reallocs.fetch_add(1, std::memory_order_relaxed);
    g_bytes.fetch_add(size, std::memory_order_relaxed);
  }
  return __libc_realloc(ptr, size);
}

void free(void* ptr) {
  if (ptr != nullptr) g_frees.fetch_add(1, std::memory_order_relaxed);
  __libc_free(ptr);
}

void* memalign(std::size_t alignment, std::size_t size) {
  counted(size);
  return __libc_memalign(alignment, size);
}

void* aligned_alloc(std::size_t alignment, std::size_t size) {
  counted(size);
  return __libc_memalign(alignment, size);
}

int posix_memalign(void** out, std::size_t alignment, std::size_t size) {
  if (alignment % sizeof(void*) != 0 || (alignment & (alignment - 1)) != 0) return EINVAL;
  counted(size);
  void* p = __libc_memalign(alignment, size);
  if (p == nullptr && size != 0) return ENOMEM;
  *out = p;
  return 0;
}

void* valloc(std::size_t size) {
  counted(size);
  return __libc_valloc(size);
}

void* pvalloc(std::size_t size) {
  counted(size);
  return __libc_pvalloc(size);
}

}  // extern "C"
