#include "operators/hive/table.h"

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/civil_time.h"
#include "common/strings.h"
#include "operators/hive/hive_text.h"

namespace sluice::hive {
namespace {

bool ValidName(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) && c != '_') return false;
  }
  return true;
}

std::string Quote(std::string_view s) {
  std::string out = "'";
  for (char c : s) {
    if (c == '\'' || c == '\\') out += '\\';
    out += c;
  }
  return out + "'";
}

}  // namespace

absl::StatusOr<TableName> ParseTableName(std::string_view text) {
  std::vector<std::string> parts = absl::StrSplit(Sv(text), '.');
  if (parts.size() == 1) parts.insert(parts.begin(), "default");
  if (parts.size() != 2 || !ValidName(parts[0]) || !ValidName(parts[1])) {
    return absl::InvalidArgumentError(
        absl::StrCat("expected a table name like ods.access_log (letters, digits, _), got '", Sv(text), "'"));
  }
  return TableName{absl::AsciiStrToLower(parts[0]), absl::AsciiStrToLower(parts[1])};
}

std::string TableDir(const std::string& root, const TableName& name) {
  return absl::StrCat(root, "/", name.db, ".db/", name.table);
}

absl::StatusOr<TableLocation> ReadTableLocation(const Param& p) {
  TableLocation loc;
  auto warehouse = p.GetStringOr("warehouse", "");
  if (!warehouse.ok()) return warehouse.status();
  if (warehouse->empty()) return p.MissingError("warehouse");
  auto fs = OpenFileSystem(*warehouse, &loc.root);
  if (!fs.ok()) return p.Find("warehouse")->Error(StdSv(fs.status().message()));
  loc.fs = *fs;
  auto table = p.GetStringOr("table", "");
  if (!table.ok()) return table.status();
  if (table->empty()) return p.MissingError("table");
  auto name = ParseTableName(*table);
  if (!name.ok()) return p.Find("table")->Error(StdSv(name.status().message()));
  loc.name = *name;
  loc.dir = TableDir(loc.root, loc.name);
  return loc;
}

absl::StatusOr<PartitionScheme> MakePartitionScheme(const std::vector<std::string>& keys, const std::string& zone) {
  PartitionScheme s;
  s.keys = keys;
  if (keys.empty() || keys[0] != "dt" || keys.size() > 2 || (keys.size() == 2 && keys[1] != "hour")) {
    return absl::InvalidArgumentError(absl::StrCat("expected [dt] or [dt, hour], got [", absl::StrJoin(keys, ", "), "]"));
  }
  s.zone_name = zone;
  if (zone == "UTC" || zone.empty()) {
    s.zone = absl::UTCTimeZone();
    s.zone_name = "UTC";
  } else if (zone[0] == '+' || zone[0] == '-') {
    int h = 0, m = 0;
    std::vector<std::string> hm = absl::StrSplit(zone.substr(1), ':');
    if (hm.size() != 2 || !absl::SimpleAtoi(hm[0], &h) || !absl::SimpleAtoi(hm[1], &m) || h > 14 || m > 59) {
      return absl::InvalidArgumentError(absl::StrCat("expected an offset like +08:00, got '", zone, "'"));
    }
    int secs = (h * 3600 + m * 60) * (zone[0] == '-' ? -1 : 1);
    s.zone = absl::FixedTimeZone(secs);
  } else if (!absl::LoadTimeZone(zone, &s.zone)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "unknown time zone '", zone, "' (an IANA name like Asia/Shanghai needs the tzdata package; or +08:00)"));
  }
  return s;
}

Partition PartitionOf(const PartitionScheme& scheme, int64_t time_ms) {
  Partition p;
  const absl::Time t = absl::FromUnixMillis(time_ms);
  const absl::CivilSecond cs = absl::ToCivilSecond(t, scheme.zone);
  if (scheme.keys.size() == 1) {
    const absl::CivilDay day(cs);
    p.values = {absl::StrFormat("%04d-%02d-%02d", day.year(), day.month(), day.day())};
    p.start_ms = absl::ToUnixMillis(absl::FromCivil(day, scheme.zone));
    p.end_ms = absl::ToUnixMillis(absl::FromCivil(day + 1, scheme.zone));
  } else {
    const absl::CivilHour hour(cs);
    p.values = {absl::StrFormat("%04d-%02d-%02d", hour.year(), hour.month(), hour.day()),
                absl::StrFormat("%02d", hour.hour())};
    p.start_ms = absl::ToUnixMillis(absl::FromCivil(hour, scheme.zone));
    p.end_ms = absl::ToUnixMillis(absl::FromCivil(hour + 1, scheme.zone));
  }
  for (size_t i = 0; i < scheme.keys.size(); ++i) {
    if (i > 0) p.path += '/';
    absl::StrAppend(&p.path, scheme.keys[i], "=", p.values[i]);
  }
  return p;
}

std::string EncodeTableSchema(const TableSchema& schema) {
  std::string out = "# written by sluice's hive_sink; read by hive_partitions\n";
  for (const Field& f : schema.columns) absl::StrAppend(&out, "column\t", f.name, "\t", Sv(TypeName(f.type)), "\n");
  for (const auto& k : schema.partition_keys) absl::StrAppend(&out, "partition\t", k, "\n");
  absl::StrAppend(&out, "compression\t", schema.compression, "\n");
  return out;
}

absl::StatusOr<TableSchema> DecodeTableSchema(std::string_view text, const std::string& where) {
  TableSchema s;
  int line_no = 0;
  for (absl::string_view line : absl::StrSplit(Sv(text), '\n')) {
    ++line_no;
    if (line.empty() || line[0] == '#') continue;
    std::vector<std::string> f = absl::StrSplit(line, '\t');
    auto bad = [&] { return absl::DataLossError(absl::StrCat(where, ":", line_no, ": cannot read '", line, "'")); };
    if (f[0] == "column" && f.size() == 3) {
      Type t;
      if (!ParseType(f[2], &t)) return bad();
      s.columns.push_back({f[1], t});
    } else if (f[0] == "partition" && f.size() == 2) {
      s.partition_keys.push_back(f[1]);
    } else if (f[0] == "compression" && f.size() == 2) {
      s.compression = f[1];
    } else {
      return bad();
    }
  }
  return s;
}

std::string CreateTableDdl(const TableName& name, const TableSchema& schema, const std::string& location) {
  std::string cols;
  for (size_t i = 0; i < schema.columns.size(); ++i) {
    absl::StrAppend(&cols, i ? ",\n" : "", "  `", schema.columns[i].name, "` ", Sv(HiveTypeName(schema.columns[i].type)));
  }
  std::string parts;
  for (size_t i = 0; i < schema.partition_keys.size(); ++i) {
    absl::StrAppend(&parts, i ? ", " : "", "`", schema.partition_keys[i], "` STRING");
  }
  return absl::StrCat(
      "-- Written by sluice's hive_sink. Files: Hive's default text format; compression: ", schema.compression,
      " (Hive reads .gz and .zst text files by their extension).\n",
      "CREATE DATABASE IF NOT EXISTS `", name.db, "`;\n",
      "CREATE EXTERNAL TABLE IF NOT EXISTS `", name.db, "`.`", name.table, "` (\n", cols, "\n)\n",
      "PARTITIONED BY (", parts, ")\n",
      "ROW FORMAT DELIMITED\n  FIELDS TERMINATED BY '\\001'\n  ESCAPED BY '\\\\'\n  LINES TERMINATED BY '\\n'\n",
      "  NULL DEFINED AS '\\\\N'\n",
      "STORED AS TEXTFILE\n",
      "LOCATION ", Quote(location), "\n",
      "TBLPROPERTIES ('serialization.escape.crlf'='true');\n");
}

std::string AddPartitionDdl(const TableName& name, const std::vector<std::string>& keys, const Partition& p,
                            const std::string& location) {
  std::string spec;
  for (size_t i = 0; i < keys.size(); ++i) absl::StrAppend(&spec, i ? ", " : "", "`", keys[i], "`=", Quote(p.values[i]));
  return absl::StrCat("ALTER TABLE `", name.db, "`.`", name.table, "` ADD IF NOT EXISTS PARTITION (", spec,
                      ") LOCATION ", Quote(location), ";\n");
}

}  // namespace sluice::hive
