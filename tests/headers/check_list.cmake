# Fails when a header under include/ is missing from EE_PUBLIC_HEADERS (and so from the
# compile-alone check and the install).
file(GLOB_RECURSE on_disk RELATIVE ${INCLUDE_DIR} ${INCLUDE_DIR}/easyenclave/*.hpp)
set(missing "")
foreach(h IN LISTS on_disk)
  if(NOT h IN_LIST LISTED)
    list(APPEND missing ${h})
  endif()
endforeach()
if(missing)
  message(FATAL_ERROR "public headers not in EE_PUBLIC_HEADERS (top-level CMakeLists.txt): ${missing}")
endif()
list(LENGTH on_disk n)
message(STATUS "all ${n} public headers are listed")
