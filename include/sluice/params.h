/// Operator parameters: a small JSON-like tree (null, bool, number, string, list, map)
/// built from a topology's YAML or C++ builder. Every node remembers where it came from
/// (file and line) and its path ("nodes[2].params.window.size"), so an operator can
/// reject a bad value with an error that names the file, line and field.
///
/// Params are immutable after the topology is loaded and may be read from any thread.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace sluice {

class Param {
 public:
  enum class Kind : uint8_t { kNull, kBool, kNumber, kString, kList, kMap };

  Param() = default;
  static Param Null() { return Param(); }
  static Param Bool(bool v);
  static Param Number(double v, std::string text = "");
  static Param String(std::string v);
  static Param List(std::vector<Param> items = {});
  static Param Map(std::vector<std::pair<std::string, Param>> entries = {});

  Kind kind() const { return kind_; }
  bool is_null() const { return kind_ == Kind::kNull; }
  bool is_map() const { return kind_ == Kind::kMap; }
  bool is_list() const { return kind_ == Kind::kList; }
  bool is_string() const { return kind_ == Kind::kString; }

  /// Where this value came from. `file` may be empty (builder), `line` 0 if unknown.
  const std::string& file() const { return file_; }
  int line() const { return line_; }
  const std::string& path() const { return path_; }
  /// Sets location; for a list or map, children get "path[i]" / "path.key" paths.
  void SetLocation(std::string file, int line, std::string path);
  /// Sets location of this node only.
  void SetOwnLocation(std::string file, int line, std::string path);

  /// Raw accessors (valid for the matching kind).
  bool bool_value() const { return bool_; }
  double number_value() const { return number_; }
  /// For kString the string; for kNumber/kBool their source text.
  const std::string& string_value() const { return string_; }
  const std::vector<Param>& items() const { return items_; }
  const std::vector<std::pair<std::string, Param>>& entries() const { return entries_; }

  /// Map lookup; nullptr if absent (or not a map).
  const Param* Find(std::string_view key) const;
  /// Adds or replaces a map entry (the node becomes a map if it was null).
  void Set(std::string key, Param value);
  /// Keys present in a map that are not in `allowed`: returns an error naming the first.
  absl::Status CheckKeys(const std::vector<std::string_view>& allowed) const;

  // Typed getters on a map. Each fails with INVALID_ARGUMENT naming file:line and path
  // ("ysb.yaml:14: nodes[2].params.size: expected a duration like 10s, got 'ten'").
  // The *Or forms return `def` when the key is absent or null.
  absl::StatusOr<std::string> GetString(std::string_view key) const;
  absl::StatusOr<std::string> GetStringOr(std::string_view key, std::string def) const;
  absl::StatusOr<int64_t> GetInt(std::string_view key) const;
  absl::StatusOr<int64_t> GetIntOr(std::string_view key, int64_t def) const;
  absl::StatusOr<double> GetDoubleOr(std::string_view key, double def) const;
  absl::StatusOr<bool> GetBoolOr(std::string_view key, bool def) const;
  /// Durations: "10s", "500ms", "1m", "2h", "1d", or a bare integer of milliseconds.
  /// Returns milliseconds.
  absl::StatusOr<int64_t> GetDurationMs(std::string_view key) const;
  absl::StatusOr<int64_t> GetDurationMsOr(std::string_view key, int64_t def) const;
  /// A string or a list of strings.
  absl::StatusOr<std::vector<std::string>> GetStringList(std::string_view key) const;
  absl::StatusOr<std::vector<std::string>> GetStringListOr(std::string_view key) const;

  /// An INVALID_ARGUMENT error located at this node: "<file>:<line>: <path>: <msg>".
  absl::Status Error(std::string_view msg) const;
  /// Error for a missing required key of this map.
  absl::Status MissingError(std::string_view key) const;

  /// Renders as compact JSON-ish text (for logs and errors).
  std::string ToString() const;

 private:
  Kind kind_ = Kind::kNull;
  bool bool_ = false;
  double number_ = 0;
  std::string string_;
  std::vector<Param> items_;
  std::vector<std::pair<std::string, Param>> entries_;
  std::string file_;
  int line_ = 0;
  std::string path_;
};

/// Parses a duration ("10s", "250ms", "1m", "1h", "1d", "1500"): milliseconds, or an error.
absl::StatusOr<int64_t> ParseDurationMs(std::string_view text);

}  // namespace sluice
