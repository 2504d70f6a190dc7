# Helpers shaped like Redpanda's: one library per folder, tests registered with labels.

# sluice_cc_library(NAME name SRCS a.cc b.cc DEPS dep1 dep2)
function(sluice_cc_library)
  cmake_parse_arguments(ARG "" "NAME" "SRCS;DEPS" ${ARGN})
  add_library(${ARG_NAME} STATIC ${ARG_SRCS})
  target_include_directories(${ARG_NAME} PUBLIC ${PROJECT_SOURCE_DIR} ${PROJECT_SOURCE_DIR}/include)
  target_link_libraries(${ARG_NAME} PUBLIC ${ARG_DEPS})
endfunction()

# sluice_cc_test(NAME name SRCS a_test.cc DEPS dep LABELS unit)
function(sluice_cc_test)
  cmake_parse_arguments(ARG "" "NAME" "SRCS;DEPS;LABELS" ${ARGN})
  add_executable(${ARG_NAME} ${ARG_SRCS})
  target_link_libraries(${ARG_NAME} PRIVATE ${ARG_DEPS} GTest::gtest GTest::gmock GTest::gtest_main)
  if(NOT ARG_LABELS)
    set(ARG_LABELS unit)
  endif()
  add_test(NAME ${ARG_NAME} COMMAND ${ARG_NAME})
  set_tests_properties(${ARG_NAME} PROPERTIES LABELS "${ARG_LABELS}" TIMEOUT 300)
endfunction()

# sluice_export_sdk(target): for an executable that loads operator plugins
# (runtime/plugin/). Plugins do not link the SDK; their references to it resolve to the
# host's copy at load time, so the host exports its symbols (ENABLE_EXPORTS, i.e.
# -rdynamic) and links the whole of sluice_sdk, not only the objects it uses itself.
function(sluice_export_sdk target)
  set_target_properties(${target} PROPERTIES ENABLE_EXPORTS ON)
  # The SDK's object files go into the executable itself, so every SDK symbol is there
  # (the archive later on the link line then adds nothing and defines nothing twice).
  target_sources(${target} PRIVATE $<TARGET_OBJECTS:sluice_sdk>)
endfunction()

# sluice_add_plugin(NAME name SOURCES a.cc ...): an operator plugin; shared with the
# installed CMake package.
include(${CMAKE_CURRENT_LIST_DIR}/sluice_plugin.cmake)

# sluice_program(target [NO_PLUGINS]): one of the programs users run (sluice,
# sluice-worker, sluice-coordinator). They sit side by side in build/bin, as when
# installed, because `sluice local` starts the other two from its own directory. A
# program that loads plugins exports the SDK to them; NO_PLUGINS (the coordinator)
# carries no SDK at all.
function(sluice_program target)
  cmake_parse_arguments(ARG "NO_PLUGINS" "" "" ${ARGN})
  set_target_properties(${target} PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/bin)
  if(NOT ARG_NO_PLUGINS)
    sluice_export_sdk(${target})
  endif()
  install(TARGETS ${target} RUNTIME DESTINATION bin COMPONENT programs)
endfunction()
