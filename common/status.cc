#include "common/status.h"

#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"

namespace sluice {

absl::Status ErrnoToStatus(int err, std::string_view context) {
  std::string msg = absl::StrCat(absl::string_view(context.data(), context.size()), ": ", std::strerror(err));
  switch (err) {
    case ENOENT:
      return absl::NotFoundError(msg);
    case EACCES:
    case EPERM:
      return absl::PermissionDeniedError(msg);
    case EAGAIN:
    case EINTR:
      return absl::UnavailableError(msg);
    default:
      return absl::UnknownError(msg);
  }
}

}  // namespace sluice
