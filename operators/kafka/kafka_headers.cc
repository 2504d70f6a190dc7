#include "operators/kafka/kafka_headers.h"

#include <vector>

#include "absl/strings/str_cat.h"
#include "sluice/record.h"

namespace sluice::operators::kafka {

void AppendHeadersJson(const rd_kafka_headers_t* hdrs, std::string* out) {
  struct Header {
    std::string_view name;
    const void* value;
    size_t size;
  };
  std::vector<Header> all;
  if (hdrs != nullptr) {
    const char* name;
    const void* value;
    size_t size;
    for (size_t i = 0; rd_kafka_header_get_all(hdrs, i, &name, &value, &size) == RD_KAFKA_RESP_ERR_NO_ERROR; ++i) {
      all.push_back({std::string_view(name), value, size});
    }
  }
  auto append_value = [out](const Header& h) {
    if (h.value == nullptr) {
      out->append("null");
    } else {
      AppendJsonString(out, std::string_view(static_cast<const char*>(h.value), h.size));
    }
  };
  // Records carry a handful of headers: quadratic grouping by name is cheapest.
  out->push_back('{');
  bool first = true;
  for (size_t i = 0; i < all.size(); ++i) {
    bool seen = false;
    size_t count = 0;
    for (size_t j = 0; j < all.size(); ++j) {
      if (all[j].name != all[i].name) continue;
      if (j < i) seen = true;
      ++count;
    }
    if (seen) continue;  // written with its first occurrence
    if (!first) out->push_back(',');
    first = false;
    AppendJsonString(out, all[i].name);
    out->push_back(':');
    if (count == 1) {
      append_value(all[i]);
      continue;
    }
    out->push_back('[');
    bool first_value = true;
    for (size_t j = i; j < all.size(); ++j) {
      if (all[j].name != all[i].name) continue;
      if (!first_value) out->push_back(',');
      first_value = false;
      append_value(all[j]);
    }
    out->push_back(']');
  }
  out->push_back('}');
}

absl::Status HeadersJsonReader::Add(std::string_view json, rd_kafka_headers_t* hdrs) {
  if (json.empty()) return absl::OkStatus();
  simdjson::dom::element doc;
  if (auto err = parser_.parse(json.data(), json.size(), /*realloc_if_needed=*/true).get(doc); err) {
    return absl::InvalidArgumentError(absl::StrCat("headers: not JSON: ", simdjson::error_message(err)));
  }
  simdjson::dom::object obj;
  if (doc.get_object().get(obj) != simdjson::SUCCESS) {
    return absl::InvalidArgumentError("headers: expected a JSON object of header name -> value");
  }
  for (auto [name, value] : obj) {
    auto add = [&](simdjson::dom::element v) -> absl::Status {
      switch (v.type()) {
        case simdjson::dom::element_type::NULL_VALUE:
          rd_kafka_header_add(hdrs, name.data(), static_cast<ssize_t>(name.size()), nullptr, 0);
          return absl::OkStatus();
        case simdjson::dom::element_type::STRING: {
          std::string_view s;
          if (v.get_string().get(s) != simdjson::SUCCESS) s = {};
          rd_kafka_header_add(hdrs, name.data(), static_cast<ssize_t>(name.size()), s.data(),
                              static_cast<ssize_t>(s.size()));
          return absl::OkStatus();
        }
        case simdjson::dom::element_type::ARRAY:
        case simdjson::dom::element_type::OBJECT:
          return absl::InvalidArgumentError(
              absl::StrCat("headers: the value of '", std::string(name), "' must be a string, number, bool, null or a list of them"));
        default: {  // number or bool: its JSON text
          std::string text = simdjson::minify(v);
          rd_kafka_header_add(hdrs, name.data(), static_cast<ssize_t>(name.size()), text.data(),
                              static_cast<ssize_t>(text.size()));
          return absl::OkStatus();
        }
      }
    };
    if (simdjson::dom::array values; value.get_array().get(values) == simdjson::SUCCESS) {
      for (simdjson::dom::element v : values) {
        if (absl::Status st = add(v); !st.ok()) return st;
      }
    } else if (absl::Status st = add(value); !st.ok()) {
      return st;
    }
  }
  return absl::OkStatus();
}

}  // namespace sluice::operators::kafka
