// The entry point every fuzz target defines, called by libFuzzer (clang builds with COWDB_FUZZ)
// or by replay_main.cc (all other builds) once per input. Returns 0; a failed check aborts.
#ifndef COWDB_TESTS_FUZZ_FUZZ_TARGET_H_
#define COWDB_TESTS_FUZZ_FUZZ_TARGET_H_

#include <cstddef>
#include <cstdint>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size);

#endif  // COWDB_TESTS_FUZZ_FUZZ_TARGET_H_
