# ctest's format check: every C++ file of the source tree (include/, db/, examples/, tests/) is as
# clang-format-16 would write it under .clang-format. Fails, listing the files, otherwise; fix
# them with `clang-format-16 -i FILE...`.
#
# The version is pinned: each clang-format release formats some constructs differently, and 14
# (Debian 12's default) mangles C++20 requires-clauses. .ci/install-deps installs clang-format-16.
#
# Usage: cmake -DSOURCE_DIR=<root> -P CheckFormat.cmake
find_program(CLANG_FORMAT NAMES clang-format-16)
if(NOT CLANG_FORMAT)
  message(FATAL_ERROR "clang-format-16 not found: run `bash .ci/install-deps` (Debian package "
                      "clang-format-16)")
endif()
file(GLOB_RECURSE files LIST_DIRECTORIES false
  ${SOURCE_DIR}/include/*.h ${SOURCE_DIR}/db/*.h ${SOURCE_DIR}/db/*.cc
  ${SOURCE_DIR}/examples/*.h ${SOURCE_DIR}/examples/*.cc
  ${SOURCE_DIR}/tests/*.h ${SOURCE_DIR}/tests/*.cc)
list(FILTER files EXCLUDE REGEX "/tests/fuzz/corpus/")
list(SORT files)
set(bad "")
foreach(f IN LISTS files)
  execute_process(COMMAND ${CLANG_FORMAT} --style=file --dry-run --Werror ${f}
    RESULT_VARIABLE rc OUTPUT_QUIET ERROR_QUIET)
  if(NOT rc EQUAL 0)
    file(RELATIVE_PATH rel ${SOURCE_DIR} ${f})
    string(APPEND bad "  ${rel}\n")
  endif()
endforeach()
list(LENGTH files count)
if(bad)
  message(FATAL_ERROR "not as clang-format-16 writes them (fix: clang-format-16 -i FILE...):\n${bad}")
endif()
message(STATUS "${count} files formatted")
