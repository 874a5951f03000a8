# Install rules and package files of libeasyenclave and its programs (docs/packaging.md).
# Included at the end of the top-level CMakeLists.txt, once every target exists.
#
# Components:
#   runtime  ee, ee-cp, ee-agent (stripped; their debug files under lib/debug/.build-id), the
#            shared library when BUILD_SHARED_LIBS, systemd units and sample configuration
#   dev      headers, libeasyenclave.a or the .so link, CMake package config, easyenclave.pc
#   doc      docs/*.md (and README, LICENSE, CHANGELOG, SECURITY when present) in share/doc
#   python   the Python module (bindings/python; pip install . installs only this one)
#
# Files that name the install prefix (easyenclave.pc, the systemd units) are written when they are
# installed, from the prefix of that install (`cmake --install --prefix P`), not the configure one.
include(CMakePackageConfigHelpers)

option(EE_SPLIT_DEBUG "Install programs stripped, with separate debug files under lib/debug" ON)
set(EE_PROGRAMS "")
if(EE_BUILD_CLI)
  set(EE_PROGRAMS ee ee-cp ee-agent)
endif()
get_target_property(ee_library_type easyenclave TYPE)

# A GNU build id on every installed ELF file names its debug file (lib/debug/.build-id/xx/yyy.debug).
foreach(target IN LISTS EE_PROGRAMS)
  target_link_options(${target} PRIVATE LINKER:--build-id=sha1)
endforeach()

if(ee_library_type STREQUAL "SHARED_LIBRARY")
  # 0.x: every minor version may change the ABI, so it is part of the SONAME.
  # No <target>_EXPORTS define (nothing uses it): the objects compile with the static build's
  # command line (the library is position-independent in both), so ccache serves them.
  set_target_properties(easyenclave PROPERTIES
    VERSION ${PROJECT_VERSION}
    SOVERSION ${PROJECT_VERSION_MAJOR}.${PROJECT_VERSION_MINOR}
    DEFINE_SYMBOL "")
  target_link_options(easyenclave PRIVATE LINKER:--build-id=sha1 LINKER:--no-undefined)
  # Installed programs find the library relative to themselves (the release tarball unpacks
  # anywhere).
  file(RELATIVE_PATH ee_bin_to_lib ${CMAKE_INSTALL_FULL_BINDIR} ${CMAKE_INSTALL_FULL_LIBDIR})
  foreach(target IN LISTS EE_PROGRAMS)
    set_target_properties(${target} PROPERTIES INSTALL_RPATH "$ORIGIN/${ee_bin_to_lib}")
  endforeach()
endif()

# --- the library, headers, CMake package config ----------------------------------------------
install(TARGETS easyenclave EXPORT easyenclaveTargets
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR} COMPONENT dev
        LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR} COMPONENT runtime NAMELINK_COMPONENT dev)
install(DIRECTORY include/easyenclave DESTINATION ${CMAKE_INSTALL_INCLUDEDIR} COMPONENT dev)
install(EXPORT easyenclaveTargets NAMESPACE easyenclave::
        DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/easyenclave COMPONENT dev)
if(ee_library_type STREQUAL "STATIC_LIBRARY")
  set(EE_PACKAGE_STATIC ON)
else()
  set(EE_PACKAGE_STATIC OFF)
endif()
configure_package_config_file(cmake/easyenclaveConfig.cmake.in
  ${CMAKE_CURRENT_BINARY_DIR}/easyenclaveConfig.cmake
  INSTALL_DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/easyenclave)
write_basic_package_version_file(${CMAKE_CURRENT_BINARY_DIR}/easyenclaveConfigVersion.cmake
  COMPATIBILITY SameMinorVersion)
install(FILES ${CMAKE_CURRENT_BINARY_DIR}/easyenclaveConfig.cmake
              ${CMAKE_CURRENT_BINARY_DIR}/easyenclaveConfigVersion.cmake
        DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/easyenclave COMPONENT dev)

# --- pkg-config ---------------------------------------------------------------------------------
# Boost has no .pc file, so its libraries are named directly. A static library carries none of
# its dependencies, so they are public (Libs/Requires: plain `pkg-config --libs` links); a shared
# one records them itself (DT_NEEDED), so they are private (only `--static` lists them).
set(ee_pc_deps "openssl sqlite3 zlib libpq libargon2")
set(ee_pc_dep_libs "-lboost_json -lboost_url")
if(EE_PACKAGE_STATIC)
  set(EE_PC_REQUIRES "${ee_pc_deps}")
  set(EE_PC_LIBS "${ee_pc_dep_libs} -pthread")
  set(EE_PC_REQUIRES_PRIVATE "")
  set(EE_PC_LIBS_PRIVATE "")
else()
  set(EE_PC_REQUIRES "")
  set(EE_PC_LIBS "-pthread")
  set(EE_PC_REQUIRES_PRIVATE "${ee_pc_deps}")
  set(EE_PC_LIBS_PRIVATE "${ee_pc_dep_libs}")
endif()

# install_configured(TEMPLATE DESTINATION [COMPONENT c] [RENAME name]): configure TEMPLATE with
# @ONLY at install time, where EE_PREFIX is the prefix being installed to, and install it.
set(ee_install_time_dir ${CMAKE_CURRENT_BINARY_DIR}/install-time)
function(ee_install_configured template destination component)
  get_filename_component(name ${template} NAME)
  string(REGEX REPLACE "\\.in$" "" name ${name})
  # Every variable the templates use, fixed now; EE_PREFIX and the full directories at install.
  set(vars "")
  foreach(var PROJECT_VERSION PROJECT_DESCRIPTION CMAKE_INSTALL_BINDIR CMAKE_INSTALL_LIBDIR
              CMAKE_INSTALL_INCLUDEDIR CMAKE_INSTALL_DOCDIR EE_PC_REQUIRES EE_PC_LIBS
              EE_PC_REQUIRES_PRIVATE EE_PC_LIBS_PRIVATE)
    string(APPEND vars "set(${var} [==[${${var}}]==])\n")
  endforeach()
  install(CODE "${vars}
    set(EE_PREFIX \"\${CMAKE_INSTALL_PREFIX}\")
    set(EE_BINDIR \"\${CMAKE_INSTALL_PREFIX}/${CMAKE_INSTALL_BINDIR}\")
    set(EE_DOCDIR \"\${CMAKE_INSTALL_PREFIX}/${CMAKE_INSTALL_DOCDIR}\")
    configure_file([==[${template}]==] [==[${ee_install_time_dir}/${name}]==] @ONLY)
    file(INSTALL DESTINATION \"\${CMAKE_INSTALL_PREFIX}/${destination}\" TYPE FILE
         FILES [==[${ee_install_time_dir}/${name}]==])"
    COMPONENT ${component})
endfunction()
ee_install_configured(${PROJECT_SOURCE_DIR}/cmake/easyenclave.pc.in
                      ${CMAKE_INSTALL_LIBDIR}/pkgconfig dev)

# --- programs, stripped, with their debug files --------------------------------------------------
if(EE_PROGRAMS)
  install(TARGETS ${EE_PROGRAMS} RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR} COMPONENT runtime)
endif()
set(ee_split_files "")
foreach(target IN LISTS EE_PROGRAMS)
  list(APPEND ee_split_files "${CMAKE_INSTALL_BINDIR}/$<TARGET_FILE_NAME:${target}>")
endforeach()
if(ee_library_type STREQUAL "SHARED_LIBRARY")
  list(APPEND ee_split_files "${CMAKE_INSTALL_LIBDIR}/$<TARGET_FILE_NAME:easyenclave>")
endif()
if(EE_SPLIT_DEBUG AND ee_split_files)
  if(NOT CMAKE_OBJCOPY OR NOT CMAKE_STRIP OR NOT CMAKE_READELF)
    message(FATAL_ERROR "EE_SPLIT_DEBUG needs objcopy, strip and readelf (binutils), or -DEE_SPLIT_DEBUG=OFF")
  endif()
  install(CODE "
    set(EE_OBJCOPY [==[${CMAKE_OBJCOPY}]==])
    set(EE_STRIP [==[${CMAKE_STRIP}]==])
    set(EE_READELF [==[${CMAKE_READELF}]==])
    include([==[${PROJECT_SOURCE_DIR}/cmake/ee_split_debug.cmake]==])
    foreach(file ${ee_split_files})
      ee_split_debug(\"\$ENV{DESTDIR}\${CMAKE_INSTALL_PREFIX}/\${file}\"
                     \"\$ENV{DESTDIR}\${CMAKE_INSTALL_PREFIX}/lib/debug\")
    endforeach()" COMPONENT runtime)
endif()
if(EE_SPLIT_DEBUG AND CMAKE_STRIP AND ee_library_type STREQUAL "STATIC_LIBRARY")
  # The archive's DWARF is 93% of its size (429 MB of 459); embedders who debug into the library
  # build it from source. Static archives keep no separate debug files (as Debian's -dev).
  install(CODE "
    execute_process(COMMAND [==[${CMAKE_STRIP}]==] --strip-debug
      \"\$ENV{DESTDIR}\${CMAKE_INSTALL_PREFIX}/${CMAKE_INSTALL_LIBDIR}/$<TARGET_FILE_NAME:easyenclave>\"
      COMMAND_ERROR_IS_FATAL ANY)" COMPONENT dev)
endif()

# --- operator files: systemd units and sample configuration ------------------------------------
# Units go to <prefix>/lib/systemd/system, which systemd reads for /usr and /usr/local.
if(EE_BUILD_CLI)
  ee_install_configured(${PROJECT_SOURCE_DIR}/packaging/ee-cp.service.in lib/systemd/system runtime)
  ee_install_configured(${PROJECT_SOURCE_DIR}/packaging/ee-agent.service.in lib/systemd/system runtime)
  install(FILES packaging/ee-cp.env packaging/ee-agent.json
          DESTINATION ${CMAKE_INSTALL_DATADIR}/easyenclave/examples COMPONENT runtime)
endif()

# --- documentation -----------------------------------------------------------------------------
install(DIRECTORY docs/ DESTINATION ${CMAKE_INSTALL_DOCDIR} COMPONENT doc
        FILES_MATCHING PATTERN "*.md" PATTERN "openapi.json")
install(FILES README.md LICENSE CHANGELOG.md SECURITY.md
        DESTINATION ${CMAKE_INSTALL_DOCDIR} COMPONENT doc OPTIONAL)
