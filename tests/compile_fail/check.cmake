# Compiles SOURCE (-fsyntax-only) with CXX and the include directories INCLUDES (a ;-list) and
# checks the outcome: with EXPECT set, the compilation must fail and its output contain EXPECT;
# without it, the compilation must succeed.
#   cmake -DCXX=g++ -DINCLUDES="a;b" -DSOURCE=f.cc [-DEXPECT=text] -P check.cmake
set(flags -std=c++20 -fsyntax-only)
foreach(dir IN LISTS INCLUDES)
  list(APPEND flags -I${dir})
endforeach()
execute_process(COMMAND ${CXX} ${flags} ${SOURCE} RESULT_VARIABLE rc OUTPUT_VARIABLE out
  ERROR_VARIABLE out)
if(DEFINED EXPECT AND NOT EXPECT STREQUAL "")
  if(rc EQUAL 0)
    message(FATAL_ERROR "${SOURCE} compiled, but must not")
  endif()
  string(FIND "${out}" "${EXPECT}" at)
  if(at EQUAL -1)
    message(FATAL_ERROR "${SOURCE} failed to compile without saying \"${EXPECT}\":\n${out}")
  endif()
elseif(NOT rc EQUAL 0)
  message(FATAL_ERROR "${SOURCE} must compile:\n${out}")
endif()
