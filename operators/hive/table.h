// A Hive table under a warehouse root: its directory (<root>/<db>.db/<table>), its
// partition columns and how record times map to partitions (dt=YYYY-MM-DD, hour=HH in a
// time zone), the schema file sluice keeps next to the data (_ddl/schema.tsv) and the DDL
// it writes for Hive (_ddl/create_table.sql, _ddl/partitions/<partition>.sql).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "operators/hive/filesystem.h"
#include "sluice/params.h"
#include "sluice/record.h"

namespace sluice::hive {

struct TableName {
  std::string db;
  std::string table;
  std::string full() const { return db + "." + table; }
};
// "db.table" (or "table", in db "default"). Names: letters, digits, underscores.
absl::StatusOr<TableName> ParseTableName(std::string_view text);
std::string TableDir(const std::string& root, const TableName& name);

// Partition columns chosen from event time. Supported keys: dt (YYYY-MM-DD), hour (HH).
struct PartitionScheme {
  std::vector<std::string> keys;  // in directory order, e.g. {"dt", "hour"}
  absl::TimeZone zone;
  std::string zone_name;
};
// Keys must be "dt" optionally followed by "hour". Zone: "UTC", an IANA name
// (Asia/Shanghai, needs tzdata) or a fixed offset like "+08:00".
absl::StatusOr<PartitionScheme> MakePartitionScheme(const std::vector<std::string>& keys,
                                                    const std::string& zone);

struct Partition {
  std::string path;                 // "dt=2026-11-20/hour=08"
  std::vector<std::string> values;  // {"2026-11-20", "08"}
  int64_t start_ms = 0;             // event times [start_ms, end_ms) fall in it
  int64_t end_ms = 0;
};
Partition PartitionOf(const PartitionScheme& scheme, int64_t time_ms);

// What sluice records about a table it wrote (also read by hive_partitions).
struct TableSchema {
  std::vector<Field> columns;
  std::vector<std::string> partition_keys;
  std::string compression = "none";  // none, gzip, zstd
};
std::string EncodeTableSchema(const TableSchema& schema);
absl::StatusOr<TableSchema> DecodeTableSchema(std::string_view text, const std::string& where);

// The `warehouse` and `table` parameters of a node (hive_sink, hive_partitions): the
// filesystem, the table and its directory. Errors name the parameter and its line.
struct TableLocation {
  std::shared_ptr<FileSystem> fs;
  TableName name;
  std::string root;  // the warehouse root on fs
  std::string dir;   // TableDir(root, name)
};
absl::StatusOr<TableLocation> ReadTableLocation(const Param& params);

// CREATE DATABASE / CREATE EXTERNAL TABLE statements for Hive.
std::string CreateTableDdl(const TableName& name, const TableSchema& schema, const std::string& location);
// ALTER TABLE ... ADD IF NOT EXISTS PARTITION (...) LOCATION '...'.
std::string AddPartitionDdl(const TableName& name, const std::vector<std::string>& keys, const Partition& p,
                            const std::string& location);

}  // namespace sluice::hive
