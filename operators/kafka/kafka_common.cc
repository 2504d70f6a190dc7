#include "operators/kafka/kafka_common.h"

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"

namespace sluice::operators::kafka {

absl::StatusOr<std::map<std::string, std::string>> ReadProperties(const Param& params,
                                                                   std::map<std::string, std::string> props) {
  ASSIGN_OR_RETURN(std::string servers, params.GetString("bootstrap_servers"));
  props["bootstrap.servers"] = servers;
  if (const Param* extra = params.Find("properties"); extra != nullptr && !extra->is_null()) {
    if (!extra->is_map()) return extra->Error("expected a map of librdkafka properties");
    for (const auto& [key, value] : extra->entries()) {
      if (value.is_map() || value.is_list() || value.is_null()) {
        return value.Error("expected a scalar value for a librdkafka property");
      }
      props[key] = value.string_value();
    }
  }
  return props;
}

absl::StatusOr<KafkaConf> MakeConf(const std::map<std::string, std::string>& props, const Param& at) {
  KafkaConf conf(rd_kafka_conf_new());
  char err[512];
  for (const auto& [key, value] : props) {
    if (rd_kafka_conf_set(conf.get(), key.c_str(), value.c_str(), err, sizeof(err)) != RD_KAFKA_CONF_OK) {
      const Param* where = at.Find("properties");
      const Param* p = where != nullptr ? where->Find(key) : nullptr;
      std::string msg = absl::StrCat("librdkafka property ", key, "=", value, ": ", err);
      return p != nullptr ? p->Error(msg) : at.Error(msg);
    }
  }
  return conf;
}

}  // namespace sluice::operators::kafka
