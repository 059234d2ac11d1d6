// ThreadSanitizer annotations for absl::Mutex, for the test binaries (tests/testing/tsan_mutex.cc).
//
// Debian's libabsl_synchronization.so is not compiled with -fsanitize=thread, so TSan never sees
// an absl::Mutex being locked or unlocked, and it reports every access the database guards with
// its absl::Mutex (the version and branch tables) as a data race. tsan_mutex.cc, linked into every
// test binary by tests/CMakeLists.txt, defines absl::Mutex's lock and unlock functions in the
// instrumented executable: by ELF symbol interposition they replace the library's, tell TSan
// about each acquire and release, and call the library's implementation. Only the plain lock and
// unlock functions are wrapped (cowdb uses no Condition or CondVar; group commit's wait is a
// std::condition_variable, which TSan sees through pthreads). With an Abseil built with
// -fsanitize=thread, delete both files.
//
// The definitions must exist once per binary (they are ordinary, non-inline member functions),
// hence a .cc file and not a header-only shim. A test that relies on them starts with
// COWDB_REQUIRE_TSAN_MUTEX_ANNOTATIONS(): it links only where tsan_mutex.cc is linked, and under
// TSan it checks that the wrappers are the ones in use.
#ifndef COWDB_TESTS_TESTING_TSAN_MUTEX_H_
#define COWDB_TESTS_TESTING_TSAN_MUTEX_H_

namespace cowdb::testing {

// True when this is a ThreadSanitizer build and the annotated absl::Mutex functions of
// tsan_mutex.cc are the ones absl::Mutex calls resolve to. Locks and unlocks a local mutex.
bool TsanMutexAnnotationsActive();

// True when the binary is built with ThreadSanitizer.
constexpr bool kThreadSanitizer =
#if defined(__SANITIZE_THREAD__)
    true;
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
    true;
#else
    false;
#endif
#else
    false;
#endif

}  // namespace cowdb::testing

// In a TSan build, fails the current Catch2 test unless the annotations are active (a stress
// test would otherwise report false data races, or worse, none where it should).
#define COWDB_REQUIRE_TSAN_MUTEX_ANNOTATIONS()                 \
  do {                                                         \
    if (::cowdb::testing::kThreadSanitizer) {                  \
      REQUIRE(::cowdb::testing::TsanMutexAnnotationsActive()); \
    }                                                          \
  } while (false)

#endif  // COWDB_TESTS_TESTING_TSAN_MUTEX_H_
