// A hook into the global operator new of the binaries that link tests/testing/oom/operator_new.cc
// (only cowdb_oom_tests: replacing operator new is a whole-program decision, so the shared test
// binaries never do it).
//
// In such a binary every throwing form of ::operator new / new[] calls g_before_operator_new (when
// it is set) before allocating; the hook may throw std::bad_alloc to make that allocation fail.
// The nothrow forms never call it: their callers (std::stable_sort's buffer, ...) are written to
// carry on without the memory. Allocation is otherwise plain malloc/aligned_alloc and free.
//
// Thread-safety: set and clear the hook only while one thread runs; the hook runs on whichever
// thread allocates.
#ifndef COWDB_TESTS_TESTING_OPERATOR_NEW_HOOK_H_
#define COWDB_TESTS_TESTING_OPERATOR_NEW_HOOK_H_

namespace cowdb::testing {

extern void (*g_before_operator_new)();

}  // namespace cowdb::testing

#endif  // COWDB_TESTS_TESTING_OPERATOR_NEW_HOOK_H_
