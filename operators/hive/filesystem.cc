#include "operators/hive/filesystem.h"

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/strings.h"

namespace sluice::hive {

absl::StatusOr<std::shared_ptr<FileSystem>> OpenFileSystem(std::string_view uri, std::string* path) {
  if (absl::StartsWith(Sv(uri), "file://")) {
    uri.remove_prefix(7);
    if (uri.empty() || uri[0] != '/') {
      return absl::InvalidArgumentError(absl::StrCat("expected file:///ABSOLUTE/PATH, got 'file://", Sv(uri), "'"));
    }
    *path = std::string(uri);
    return LocalFileSystem();
  }
  if (size_t sep = uri.find("://"); sep != std::string_view::npos) {
    std::string scheme(uri.substr(0, sep));
    if (scheme == "hdfs" || scheme == "webhdfs") {
      return absl::UnimplementedError(
          absl::StrCat(scheme, ":// warehouses are not built yet (WebHDFS will plug in behind "
                               "sluice/filesystem.h); use file:// or a path, or an HDFS NFS/FUSE mount"));
    }
    return absl::InvalidArgumentError(absl::StrCat("unknown filesystem scheme '", scheme, "://' (file:// or a path)"));
  }
  *path = std::string(uri);
  while (path->size() > 1 && path->back() == '/') path->pop_back();
  return LocalFileSystem();
}

}  // namespace sluice::hive
