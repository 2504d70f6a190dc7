// Bridges between std::string_view and Debian's Abseil 20220623, which is built with its
// own absl::string_view (ABSL_OPTION_USE_STD_STRING_VIEW 0): absl::StrCat, StrJoin and
// the ascii helpers do not accept std::string_view directly. Wrap with Sv().
#pragma once

#include <string_view>

#include "absl/strings/string_view.h"

namespace sluice {

inline absl::string_view Sv(std::string_view s) { return absl::string_view(s.data(), s.size()); }
inline std::string_view StdSv(absl::string_view s) { return std::string_view(s.data(), s.size()); }

}  // namespace sluice
