// The warehouse's filesystem: a warehouse URI resolved to a sluice::FileSystem (the
// SDK's interface, sluice/filesystem.h), so tables can live on local disk (file://,
// built) or HDFS (hdfs:// through WebHDFS, not built yet: see README.md). Paths are the
// filesystem's own (for file://, absolute local paths).
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "sluice/filesystem.h"

namespace sluice::hive {

// The filesystem of a warehouse URI: "file:///abs/path" or a plain path (local), with
// the path on it in *path. hdfs:// and others: UNIMPLEMENTED, naming what to use.
absl::StatusOr<std::shared_ptr<FileSystem>> OpenFileSystem(std::string_view uri, std::string* path);

}  // namespace sluice::hive
