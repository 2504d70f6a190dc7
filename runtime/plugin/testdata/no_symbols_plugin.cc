// Test data: a shared object that is not a sluice plugin (no SLUICE_PLUGIN entry points).
extern "C" __attribute__((visibility("default"))) int sluice_test_not_a_plugin(void) { return 42; }
