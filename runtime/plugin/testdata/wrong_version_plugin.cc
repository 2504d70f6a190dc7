// Test data: a plugin built for another operator API version (999). It defines the two
// entry points by hand, as SLUICE_PLUGIN in some other sluice's headers would; the loader
// must refuse it before calling sluice_plugin_register.
#include <cstddef>
#include <cstring>

extern "C" __attribute__((visibility("default"))) int sluice_plugin_api_version(void) {
  return 999;
}

extern "C" __attribute__((visibility("default"))) int sluice_plugin_register(void* registry,
                                                                             char* error,
                                                                             size_t error_len) {
  static constexpr char kMessage[] = "sluice_plugin_register must not be called";
  if (error != nullptr && error_len >= sizeof(kMessage))
    std::memcpy(error, kMessage, sizeof(kMessage));
  return 13;  // INTERNAL
}
