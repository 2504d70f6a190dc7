#include "runtime/plugin/plugin_loader.h"

#include <dlfcn.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstddef>
#include <string_view>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/log.h"
#include "common/status.h"
#include "sluice/plugin.h"

namespace sluice::runtime {

namespace {

using ApiVersionFn = int (*)();
using RegisterFn = int (*)(OperatorRegistry*, char*, size_t);

constexpr char kApiVersionSymbol[] = "sluice_plugin_api_version";
constexpr char kRegisterSymbol[] = "sluice_plugin_register";

// Closes a handle unless released: used until the plugin has registered anything.
class HandleCloser {
 public:
  explicit HandleCloser(void* handle) : handle_(handle) {}
  HandleCloser(const HandleCloser&) = delete;
  HandleCloser& operator=(const HandleCloser&) = delete;
  ~HandleCloser() {
    if (handle_ != nullptr) dlclose(handle_);
  }
  void Release() { handle_ = nullptr; }

 private:
  void* handle_;
};

absl::Status MissingSymbol(const std::string& path, const char* symbol) {
  return absl::InvalidArgumentError(
      absl::StrCat("plugin ", path, ": missing symbol ", symbol,
                   " (was it built with SLUICE_PLUGIN from sluice/plugin.h?)"));
}

// The types in `after` that are not in `before` (both sorted, as Types() returns them).
std::vector<std::string> NewTypes(const std::vector<std::string>& before,
                                  const std::vector<std::string>& after) {
  std::vector<std::string> added;
  size_t i = 0;
  for (const std::string& type : after) {
    while (i < before.size() && before[i] < type) ++i;
    if (i < before.size() && before[i] == type) continue;
    added.push_back(type);
  }
  return added;
}

}  // namespace

absl::Status LoadPlugin(const std::string& path, OperatorRegistry* registry) {
  static const auto logger = GetLogger("plugin");

  struct stat st;
  if (stat(path.c_str(), &st) != 0) {
    const int err = errno;
    return ErrnoToStatus(err, absl::StrCat("plugin ", path));
  }
  if (!S_ISREG(st.st_mode)) {
    return absl::InvalidArgumentError(absl::StrCat("plugin ", path, ": not a regular file"));
  }

  // A name without a slash would make dlopen search the library path instead.
  const std::string file = path.find('/') == std::string::npos ? "./" + path : path;
  dlerror();
  void* handle = dlopen(file.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (handle == nullptr) {
    const char* err = dlerror();
    std::string_view reason = err != nullptr ? err : "unknown error";
    // dlerror() usually starts with the file name, which the message already has.
    if (reason.substr(0, file.size() + 2) == file + ": ") reason.remove_prefix(file.size() + 2);
    return absl::InvalidArgumentError(absl::StrCat(
        "plugin ", path, ": cannot load: ", absl::string_view(reason.data(), reason.size())));
  }
  HandleCloser closer(handle);

  auto api_version = reinterpret_cast<ApiVersionFn>(dlsym(handle, kApiVersionSymbol));
  if (api_version == nullptr) return MissingSymbol(path, kApiVersionSymbol);
  auto register_fn = reinterpret_cast<RegisterFn>(dlsym(handle, kRegisterSymbol));
  if (register_fn == nullptr) return MissingSymbol(path, kRegisterSymbol);

  const int version = api_version();
  if (version != SLUICE_PLUGIN_API_VERSION) {
    return absl::FailedPreconditionError(
        absl::StrCat("plugin ", path, " was built for sluice operator API version ", version,
                     "; this sluice supports version ", SLUICE_PLUGIN_API_VERSION,
                     " — rebuild it against this sluice's headers"));
  }

  // From here on the registry may hold factories that point into the plugin.
  closer.Release();
  const std::vector<std::string> before = registry->Types();
  char error[1024] = {0};
  const int code = register_fn(registry, error, sizeof(error));
  if (code != 0) {
    const bool known = code > 0 && code <= static_cast<int>(absl::StatusCode::kUnauthenticated);
    const std::string_view message = error[0] != '\0' ? error : "(no message)";
    return absl::Status(
        known ? static_cast<absl::StatusCode>(code) : absl::StatusCode::kInternal,
        absl::StrCat("plugin ", path,
                     ": registration failed: ", absl::string_view(message.data(), message.size()),
                     known ? "" : absl::StrCat(" (unexpected result code ", code, ")")));
  }
  const std::vector<std::string> added = NewTypes(before, registry->Types());
  SLUICE_LOG_INFO(logger, "loaded plugin {} (operator API version {}): {}", path, version,
                  added.empty() ? std::string("registered no operator types")
                                : absl::StrCat("registered ", absl::StrJoin(added, ", ")));
  return absl::OkStatus();
}

}  // namespace sluice::runtime
