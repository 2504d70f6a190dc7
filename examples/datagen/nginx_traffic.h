// What the generated nginx traffic is made of: the mix of pages and API calls and the
// targets each requests, static assets, browser and bot user agents, referers, statuses
// with their body sizes, and the kinds of malformed line with their broken pieces.
// nginx_logs.cc assembles lines from these; README.md describes the resulting shares.
//
// Every picker draws from the caller's Rng in a fixed way, so the output depends only
// on the seed. The tables are immutable and built on first use (thread-safe).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "examples/datagen/rng.h"

namespace sluice::datagen {

enum class PageKind {
  kHome,
  kItem,
  kCategory,
  kSearch,
  kCart,
  kCartAdd,
  kCheckout,
  kLogin,
  kAccount,
  kApiItem,
  kApiCart,
  kApiRecs,
  kApiSearch,
  kApiEvents,
  kMisc,
  kTricky
};

// How often each kind of page is requested by people.
const Table<PageKind>& PageKinds();

// Appends the request target of a `kind` page to `out` and sets `*method` (GET, or
// POST for forms and some API calls); items are drawn from `item_zipf`.
void AppendPageTarget(Rng& rng, PageKind kind, const WeightedPicker& item_zipf, std::string* out,
                      std::string_view* method);

// Appends the target of a static asset (/static/..., product images, favicon, ...).
void AppendStaticTarget(Rng& rng, std::string* out);

// A browser's (or a script's) user agent, weighted by popularity; never contains
// "bot", "spider" or "crawl".
const char* PickBrowserUserAgent(Rng& rng);
// A crawler's user agent; each contains "bot", "spider" or "crawl" in some case.
const char* PickBotUserAgent(Rng& rng);
// A $http_referer, "-" most often.
const char* PickReferer(Rng& rng);

struct StatusChoice {
  const char* status;
  int64_t min_bytes;
  int64_t max_bytes;
};

// Statuses (with their $body_bytes_sent range) of pages and of static assets.
const Table<StatusChoice>& PageStatuses();
const Table<StatusChoice>& StaticStatuses();

enum class Malformed {
  kTruncated,
  kGarbage,
  kBadTime,
  kMissingQuote,
  kBadStatus,
  kTlsJunk,
  kEmptyRequest,
  kBadRequestLine
};

// How often each kind of malformed line appears among the malformed ones.
const Table<Malformed>& MalformedKinds();

// The broken pieces of malformed lines: a $time_local no parser accepts, a request line
// that is not METHOD TARGET PROTOCOL, a status that is not three digits.
const char* PickBadTime(Rng& rng);
const char* PickBadRequestLine(Rng& rng);
const char* PickBadStatus(Rng& rng);

}  // namespace sluice::datagen
