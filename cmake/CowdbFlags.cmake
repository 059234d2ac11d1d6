# Build flags shared by every cowdb target (linked PRIVATE, never exported): warnings and the
# optional sanitizers. Nothing here touches the global CMAKE_CXX_FLAGS.
add_library(cowdb_build_flags INTERFACE)
target_compile_options(cowdb_build_flags INTERFACE
  -Wall -Wextra -Wpedantic -Wnon-virtual-dtor -Wold-style-cast -Woverloaded-virtual -Wshadow
  -Wimplicit-fallthrough -Wcast-qual -Wmissing-declarations
  $<$<BOOL:${COWDB_WERROR}>:-Werror>)

# COWDB_FUZZ: coverage instrumentation for libFuzzer in every cowdb target (the fuzz targets link
# libFuzzer itself), and the fuzzers' usual sanitizers unless COWDB_SANITIZE names others.
if(COWDB_FUZZ)
  if(NOT CMAKE_CXX_COMPILER_ID MATCHES "Clang")
    message(FATAL_ERROR "COWDB_FUZZ needs clang++ (-DCMAKE_CXX_COMPILER=clang++), not ${CMAKE_CXX_COMPILER_ID}")
  endif()
  if(NOT COWDB_SANITIZE)
    set(COWDB_SANITIZE address,undefined)
  endif()
  target_compile_options(cowdb_build_flags INTERFACE -fsanitize=fuzzer-no-link)
endif()

if(COWDB_SANITIZE)
  if(NOT COWDB_SANITIZE MATCHES "^(address,undefined|undefined,address|address|undefined|thread)$")
    message(FATAL_ERROR "COWDB_SANITIZE must be address,undefined or thread, not '${COWDB_SANITIZE}'")
  endif()
  target_compile_options(cowdb_build_flags INTERFACE
    -fsanitize=${COWDB_SANITIZE} -fno-omit-frame-pointer -fno-sanitize-recover=all)
  target_link_options(cowdb_build_flags INTERFACE -fsanitize=${COWDB_SANITIZE})
  message(STATUS "cowdb: sanitizers ${COWDB_SANITIZE}")
endif()
