// Test data: a plugin with an undefined reference nothing provides at load time, as when
// a plugin calls SDK code the host does not export; dlopen(RTLD_NOW) must refuse it.
#include <cstddef>

extern "C" int sluice_test_no_such_function(void);

extern "C" __attribute__((visibility("default"))) int sluice_plugin_api_version(void) { return 1; }

extern "C" __attribute__((visibility("default"))) int sluice_plugin_register(void* registry,
                                                                             char* error,
                                                                             size_t error_len) {
  return sluice_test_no_such_function();
}
