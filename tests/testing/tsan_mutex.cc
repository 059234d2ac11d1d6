// Annotated absl::Mutex lock functions for ThreadSanitizer builds of the tests; see tsan_mutex.h.
#include "testing/tsan_mutex.h"

#include "absl/base/config.h"
#include "absl/synchronization/mutex.h"

#ifdef ABSL_HAVE_THREAD_SANITIZER
#include <dlfcn.h>
#include <sanitizer/tsan_interface.h>

#include <atomic>
#include <cstdlib>
#include <string>
#include <string_view>

#include "fmt/format.h"

#define COWDB_TSAN_STR2(x) #x
#define COWDB_TSAN_STR(x) COWDB_TSAN_STR2(x)

namespace {

// Locks taken through the wrappers below (read by TsanMutexAnnotationsActive).
std::atomic<unsigned long> g_annotated_locks{0};

// The library's definition of absl::Mutex::<method>() (mangled by hand).
template <class Fn>
Fn RealMutexMethod(std::string_view method) {
#if ABSL_OPTION_USE_INLINE_NAMESPACE
  constexpr std::string_view ns = COWDB_TSAN_STR(ABSL_OPTION_INLINE_NAMESPACE_NAME);
  const std::string symbol =
      fmt::format("_ZN4absl{}{}5Mutex{}{}Ev", ns.size(), ns, method.size(), method);
#else
  const std::string symbol = fmt::format("_ZN4absl5Mutex{}{}Ev", method.size(), method);
#endif
  void* f = dlsym(RTLD_NEXT, symbol.c_str());
  if (f == nullptr) {
    fmt::print(stderr, "TSan absl::Mutex shim: {} not found\n", symbol);
    std::abort();
  }
  return reinterpret_cast<Fn>(f);
}

using VoidMethod = void (*)(absl::Mutex*);
using BoolMethod = bool (*)(absl::Mutex*);

}  // namespace

namespace absl {
ABSL_NAMESPACE_BEGIN

void Mutex::Lock() {
  static const VoidMethod real = RealMutexMethod<VoidMethod>("Lock");
  __tsan_mutex_pre_lock(this, 0);
  real(this);
  __tsan_mutex_post_lock(this, 0, 0);
  g_annotated_locks.fetch_add(1, std::memory_order_relaxed);
}

void Mutex::Unlock() {
  static const VoidMethod real = RealMutexMethod<VoidMethod>("Unlock");
  __tsan_mutex_pre_unlock(this, 0);
  real(this);
  __tsan_mutex_post_unlock(this, 0);
}

bool Mutex::TryLock() {
  static const BoolMethod real = RealMutexMethod<BoolMethod>("TryLock");
  __tsan_mutex_pre_lock(this, __tsan_mutex_try_lock);
  const bool locked = real(this);
  __tsan_mutex_post_lock(this, __tsan_mutex_try_lock | (locked ? 0 : __tsan_mutex_try_lock_failed),
                         0);
  return locked;
}

void Mutex::ReaderLock() {
  static const VoidMethod real = RealMutexMethod<VoidMethod>("ReaderLock");
  __tsan_mutex_pre_lock(this, __tsan_mutex_read_lock);
  real(this);
  __tsan_mutex_post_lock(this, __tsan_mutex_read_lock, 0);
}

void Mutex::ReaderUnlock() {
  static const VoidMethod real = RealMutexMethod<VoidMethod>("ReaderUnlock");
  __tsan_mutex_pre_unlock(this, __tsan_mutex_read_lock);
  real(this);
  __tsan_mutex_post_unlock(this, __tsan_mutex_read_lock);
}

bool Mutex::ReaderTryLock() {
  static const BoolMethod real = RealMutexMethod<BoolMethod>("ReaderTryLock");
  const unsigned flags = __tsan_mutex_read_lock | __tsan_mutex_try_lock;
  __tsan_mutex_pre_lock(this, flags);
  const bool locked = real(this);
  __tsan_mutex_post_lock(this, flags | (locked ? 0 : __tsan_mutex_try_lock_failed), 0);
  return locked;
}

ABSL_NAMESPACE_END
}  // namespace absl

bool cowdb::testing::TsanMutexAnnotationsActive() {
  const unsigned long before = g_annotated_locks.load(std::memory_order_relaxed);
  absl::Mutex mu;
  mu.Lock();
  mu.Unlock();
  return g_annotated_locks.load(std::memory_order_relaxed) != before;
}

#else  // !ABSL_HAVE_THREAD_SANITIZER

bool cowdb::testing::TsanMutexAnnotationsActive() { return false; }

#endif  // ABSL_HAVE_THREAD_SANITIZER
