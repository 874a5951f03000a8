# Warnings for our own targets, as an INTERFACE target linked PRIVATE so they never leak to
# embedders. EE_WARNINGS_AS_ERRORS (on in the ci preset) turns them into errors.
add_library(ee_warnings INTERFACE)
target_compile_options(ee_warnings INTERFACE
  -Wall -Wextra -Wpedantic -Wshadow -Wconversion -Wsign-conversion
  -Wold-style-cast -Woverloaded-virtual -Wimplicit-fallthrough
  # GCC 12 at -O2 reports false positives inside Asio's coroutine-frame allocator
  # (aligned_alloc paired with its sized operator delete) and Boost.System's result: off, not
  # silenced per file, so optimised builds with -Werror stay green everywhere.
  -Wno-mismatched-new-delete
  $<$<BOOL:${EE_WARNINGS_AS_ERRORS}>:-Werror>)
