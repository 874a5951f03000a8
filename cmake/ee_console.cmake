# The web console (docs/console.md): the files under web/console/, embedded into the library by
# cmake/ee_embed_assets.cmake at build time. The table is explicit (no GLOB): its URL paths are
# the only ones the console serves, each a route of its own.
set(EE_CONSOLE_ASSETS
  /=web/console/index.html
  /console/console.css=web/console/console.css
  /console/favicon.svg=web/console/favicon.svg
  /console/main.js=web/console/main.js
  /console/api.js=web/console/api.js
  /console/dom.js=web/console/dom.js
  /console/fleet.js=web/console/fleet.js
  /console/agent.js=web/console/agent.js
  /console/catalog.js=web/console/catalog.js
  /console/deployments.js=web/console/deployments.js
  /console/session.js=web/console/session.js
  /console/me.js=web/console/me.js
)
set(ee_console_entries "")
set(ee_console_files "")
foreach(ee_entry IN LISTS EE_CONSOLE_ASSETS)
  string(FIND "${ee_entry}" "=" ee_eq)
  math(EXPR ee_rest "${ee_eq} + 1")
  string(SUBSTRING "${ee_entry}" 0 ${ee_eq} ee_url)
  string(SUBSTRING "${ee_entry}" ${ee_rest} -1 ee_file)
  list(APPEND ee_console_entries "${ee_url}=${CMAKE_CURRENT_SOURCE_DIR}/${ee_file}")
  list(APPEND ee_console_files "${CMAKE_CURRENT_SOURCE_DIR}/${ee_file}")
endforeach()
string(REPLACE ";" "|" ee_console_arg "${ee_console_entries}")  # a list through one argument
set(EE_CONSOLE_GENERATED ${CMAKE_CURRENT_BINARY_DIR}/generated/console_assets.cpp)
add_custom_command(
  OUTPUT ${EE_CONSOLE_GENERATED}
  COMMAND ${CMAKE_COMMAND} "-DEE_ASSETS=${ee_console_arg}" -DEE_OUTPUT=${EE_CONSOLE_GENERATED}
          -P ${CMAKE_CURRENT_SOURCE_DIR}/cmake/ee_embed_assets.cmake
  DEPENDS ${ee_console_files} ${CMAKE_CURRENT_SOURCE_DIR}/cmake/ee_embed_assets.cmake
  COMMENT "Embedding the web console (web/console/)"
  VERBATIM)
list(APPEND EE_SOURCES_CP src/cp/console.cpp src/cp/routes/console.cpp ${EE_CONSOLE_GENERATED})
