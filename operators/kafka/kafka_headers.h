// Kafka record headers as a JSON object, the form kafka_source exposes them in (its
// `headers` column) and kafka_sink accepts them in (`headers_field`).
//
// The object maps each header name to its value as a JSON string, or null for a header
// without a value. A name that occurs more than once maps to an array of its values in
// record order (what kafkajs does), so no header is lost. Header values are bytes, not
// necessarily text: they are escaped with the SDK's AppendJsonString, which copies valid
// UTF-8 as is and writes every byte that is not part of a valid UTF-8 sequence as
// \u00XX (its Latin-1 reading), so the output is always valid JSON. Such a value does
// not survive a round trip byte for byte (a lone byte E9 comes back as \u00e9, which a
// reader decodes to the two UTF-8 bytes C3 A9).
//
// AppendHeadersJson is stateless and safe from any thread; a HeadersJsonReader is used
// by one thread at a time.
#pragma once

#include <librdkafka/rdkafka.h>

#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "simdjson.h"

namespace sluice::operators::kafka {

// Appends the headers `hdrs` (may be null: no headers) as a JSON object, e.g.
// {"trace":"ab12","hop":["a","b"],"flag":null}.
void AppendHeadersJson(const rd_kafka_headers_t* hdrs, std::string* out);

// Reads headers from a JSON object (keeps its parser's buffers between records).
class HeadersJsonReader {
 public:
  // Adds the headers of the JSON object `json` to `hdrs`, in the object's order: a
  // string is one header, null a header without value, a number or bool its JSON text,
  // an array one header per element (each of those kinds). An empty text adds nothing.
  // Returns INVALID_ARGUMENT (saying why) for text that is not a JSON object or that
  // nests objects or arrays deeper; `hdrs` may then hold some of the headers.
  absl::Status Add(std::string_view json, rd_kafka_headers_t* hdrs);

 private:
  simdjson::dom::parser parser_;
};

}  // namespace sluice::operators::kafka
