/// Processing time: the one place an operator asks what time it is, or waits.
///
/// Operators never read std::chrono clocks or sleep themselves: they use
/// Context::clock(), so a test can hand them a ManualClock and drive time by hand
/// (a spool directory's poll interval, a Kafka partition going idle, a throttle's pace)
/// without real waiting. Event time is another matter: it comes from the records and
/// watermarks, never from a clock.
///
/// Thread-safety: every method may be called from any thread. SystemClock() lives as
/// long as the process; a Context's clock lives at least until the operator's Close
/// returns.
#pragma once

#include <atomic>
#include <cstdint>

namespace sluice {

class Clock {
 public:
  virtual ~Clock() = default;
  /// Processing time: milliseconds since the Unix epoch (the system clock, which an
  /// administrator or NTP may step). For timestamps and "how old is this record".
  virtual int64_t NowMs() = 0;
  /// Nanoseconds on a clock that never goes back, with an arbitrary origin. For
  /// intervals, timeouts and pacing.
  virtual int64_t MonotonicNs() = 0;
  /// Blocks the calling thread for `ns` nanoseconds (nothing if `ns` <= 0). A test
  /// clock advances its time instead of blocking.
  virtual void SleepNs(int64_t ns) = 0;

  int64_t MonotonicMs() { return MonotonicNs() / 1000000; }
  void SleepMs(int64_t ms) { SleepNs(ms * 1000000); }
};

/// The real clock (std::chrono's system and steady clocks). Never destroyed.
Clock& SystemClock();

/// A clock that moves only when told (Advance) or when slept on: for tests. NowMs and
/// MonotonicNs move together. Thread-safe.
class ManualClock : public Clock {
 public:
  explicit ManualClock(int64_t now_ms = 1'700'000'000'000) : now_ns_(now_ms * 1000000) {}
  int64_t NowMs() override { return now_ns_.load() / 1000000; }
  int64_t MonotonicNs() override { return now_ns_.load(); }
  /// Advances time by `ns` at once, without blocking.
  void SleepNs(int64_t ns) override {
    if (ns > 0) now_ns_.fetch_add(ns);
  }
  void AdvanceMs(int64_t ms) { now_ns_.fetch_add(ms * 1000000); }

 private:
  std::atomic<int64_t> now_ns_;
};

}  // namespace sluice
