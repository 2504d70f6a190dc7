// `sluice gen tracking`: tracking events (埋点) of an online shop — page views, clicks,
// add-to-cart and orders from a few thousand users over a catalogue — as JSON lines, a
// fraction of them malformed, to a file or straight into a Kafka topic at a given rate.
#pragma once

#include <cstdint>
#include <string>

namespace sluice::cli {

struct TrackingFlags {
  std::string out;        // a file, or
  std::string bootstrap;  // a Kafka cluster and
  std::string topic;      // topic
  int64_t events = 100000;
  double rate = 0;        // events/s; 0: as fast as possible
  int users = 3000;
  int items = 500;
  int categories = 12;
  double malformed = 0.01;
  uint64_t seed = 1;
};

int GenTracking(const TrackingFlags& flags);

}  // namespace sluice::cli
