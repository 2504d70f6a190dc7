# sluice_add_plugin(NAME name SOURCES a.cc b.cc ...)
#
# Builds an operator plugin: lib<name>.so, a MODULE library compiled against the SDK
# headers (target sluice::sdk) that a sluice process loads at run time (sluice/plugin.h).
# It does not link sluice code: SDK symbols resolve to the host's copy when it is loaded.
# Only the two entry points SLUICE_PLUGIN defines are exported (sluice_plugin.map), so a
# plugin's own symbols can neither collide with the host's nor with another plugin's.
#
# Used in the sluice tree (cmake/sluice.cmake) and by the installed package
# (lib/cmake/sluice/sluiceConfig.cmake); both define sluice::sdk.
function(sluice_add_plugin)
  cmake_parse_arguments(ARG "" "NAME" "SOURCES" ${ARGN})
  if(NOT ARG_NAME OR NOT ARG_SOURCES)
    message(FATAL_ERROR "sluice_add_plugin: usage: sluice_add_plugin(NAME name SOURCES a.cc ...)")
  endif()
  set(map_file "${CMAKE_CURRENT_FUNCTION_LIST_DIR}/sluice_plugin.map")
  add_library(${ARG_NAME} MODULE ${ARG_SOURCES})
  target_link_libraries(${ARG_NAME} PRIVATE sluice::sdk)
  set_target_properties(${ARG_NAME} PROPERTIES
    POSITION_INDEPENDENT_CODE ON
    PREFIX "lib"
    SUFFIX ".so"
    LINK_DEPENDS "${map_file}")
  target_link_options(${ARG_NAME} PRIVATE "LINKER:--version-script=${map_file}")
endfunction()
