// A plugin that aborts while it is loaded (in a static initialiser), before sluice could
// call anything in it. The coordinator must store such an artifact without loading it.
#include <cstdlib>

namespace {
struct AbortOnLoad {
  AbortOnLoad() { std::abort(); }
};
const AbortOnLoad abort_on_load;
}  // namespace
