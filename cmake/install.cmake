# Install rules for the operator SDK (component `sdk`), so plugins can be built out of
# the tree (examples/plugin/README.md):
#   <prefix>/include/sluice/*.h                       the public headers
#   <prefix>/lib/cmake/sluice/sluiceConfig.cmake      find_package(sluice): target
#       sluice::sdk (headers, C++20, Abseil) and sluice_add_plugin()
# Included at the end of the root CMakeLists.txt. Executables are installed elsewhere.
include_guard(GLOBAL)
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

set(SLUICE_INSTALL_CMAKEDIR "${CMAKE_INSTALL_LIBDIR}/cmake/sluice")

install(DIRECTORY "${PROJECT_SOURCE_DIR}/include/sluice"
  DESTINATION "${CMAKE_INSTALL_INCLUDEDIR}"
  COMPONENT sdk
  FILES_MATCHING PATTERN "*.h")

install(TARGETS sluice_sdk_headers EXPORT sluiceTargets COMPONENT sdk)
install(EXPORT sluiceTargets
  NAMESPACE sluice::
  DESTINATION "${SLUICE_INSTALL_CMAKEDIR}"
  COMPONENT sdk)

configure_package_config_file(
  "${PROJECT_SOURCE_DIR}/cmake/sluice_config.cmake.in"
  "${PROJECT_BINARY_DIR}/sluiceConfig.cmake"
  INSTALL_DESTINATION "${SLUICE_INSTALL_CMAKEDIR}")
write_basic_package_version_file(
  "${PROJECT_BINARY_DIR}/sluiceConfigVersion.cmake"
  VERSION "${PROJECT_VERSION}"
  COMPATIBILITY SameMajorVersion
  ARCH_INDEPENDENT)
install(FILES
    "${PROJECT_BINARY_DIR}/sluiceConfig.cmake"
    "${PROJECT_BINARY_DIR}/sluiceConfigVersion.cmake"
    "${PROJECT_SOURCE_DIR}/cmake/sluice_plugin.cmake"
    "${PROJECT_SOURCE_DIR}/cmake/sluice_plugin.map"
  DESTINATION "${SLUICE_INSTALL_CMAKEDIR}"
  COMPONENT sdk)
