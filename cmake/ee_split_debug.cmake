# ee_split_debug(FILE DEBUG_ROOT): run at install time on an installed ELF file. Moves its debug
# information to DEBUG_ROOT/.build-id/xx/yyyy.debug (the layout gdb, elfutils and Debian's dbgsym
# packages use), strips FILE, and adds a .gnu_debuglink naming that file with its CRC.
# Needs EE_OBJCOPY, EE_STRIP and EE_READELF. A file installed before (already stripped, with its
# debuglink) is left as it is, so a repeated install does not replace the debug file by an empty
# one.
function(ee_split_debug file debug_root)
  execute_process(COMMAND ${EE_READELF} --wide --file-header --notes --section-headers ${file}
                  OUTPUT_VARIABLE elf RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "readelf failed on ${file}")
  endif()
  if(NOT elf MATCHES "Build ID: ([0-9a-f][0-9a-f])([0-9a-f]+)")
    message(FATAL_ERROR "${file} has no GNU build id (link with --build-id)")
  endif()
  set(debug_file "${debug_root}/.build-id/${CMAKE_MATCH_1}/${CMAKE_MATCH_2}.debug")
  if(elf MATCHES "\\.gnu_debuglink" AND NOT elf MATCHES "\\.debug_info")
    if(NOT EXISTS ${debug_file})
      message(FATAL_ERROR "${file} is stripped but its debug file ${debug_file} is missing")
    endif()
    message(STATUS "Up-to-date (stripped): ${file}")
    return()
  endif()
  get_filename_component(debug_dir ${debug_file} DIRECTORY)
  file(MAKE_DIRECTORY ${debug_dir})
  # zlib-compressed DWARF (ELFCOMPRESS_ZLIB) is what every tool in Debian 12 reads.
  execute_process(COMMAND ${EE_OBJCOPY} --only-keep-debug --compress-debug-sections=zlib
                          ${file} ${debug_file} COMMAND_ERROR_IS_FATAL ANY)
  file(CHMOD ${debug_file} PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ WORLD_READ)
  if(elf MATCHES "Type: +DYN \\(Shared object file\\)")
    set(how --strip-unneeded)  # a library keeps the dynamic symbols it exports
  else()
    set(how --strip-all)
  endif()
  execute_process(COMMAND ${EE_STRIP} ${how} --remove-section=.comment ${file}
                  COMMAND_ERROR_IS_FATAL ANY)
  execute_process(COMMAND ${EE_OBJCOPY} --add-gnu-debuglink=${debug_file} ${file}
                  COMMAND_ERROR_IS_FATAL ANY)
  message(STATUS "Stripped: ${file} (debug: ${debug_file})")
endfunction()
