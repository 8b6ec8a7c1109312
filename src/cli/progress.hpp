#pragma once
// The progress line of the data-moving subcommands (on stderr, redrawn a
// few times a second) and the units it and --stats use: sizes in KiB/MiB/
// GiB, rates in MiB/s.

#include <cstdint>
#include <deque>
#include <optional>
#include <string>

#include "loop/loop.hpp"
#include "util/clock.hpp"

namespace conec::cli {

// What one progress line shows. `rate` is bytes per second; `total` is the
// size the sender announced, if any (only for display: it may be wrong).
struct ProgressFigures {
  uint64_t bytes = 0;
  std::optional<uint64_t> total;
  double rate = 0;
  bool final = false;       // the summary line: no ETA
  Duration elapsed = 0;     // since the first byte (final line)
};

// "12.3 MiB / 100.0 MiB (12%)  4.5 MiB/s  ETA 0:20". The percentage stops at
// 100 when more bytes arrive than announced, and the ETA is left out then
// (or shown as -:-- while nothing moves).
std::string progress_line(const ProgressFigures &f);

// One progress line, when enabled, drawn from the first byte on. The clock
// starts at the first byte (so time spent waiting for a peer does not
// count), and the rate shown is over
// the last few seconds (a stall shows as a falling rate), except on the
// final line, which gives the average since the first byte.
class Progress {
public:
  Progress(loop::Loop &loop, bool enabled, std::optional<uint64_t> total);
  ~Progress();
  Progress(const Progress &) = delete;
  Progress &operator=(const Progress &) = delete;

  // Bytes moved so far; the first non-zero count starts the clock.
  void update(uint64_t bytes);
  // Starts the clock now, for a sender whose first bytes leave at once (its
  // counts are polled, so update() would see them late).
  void start_clock();
  // The size became known (recv learns it from the sender).
  void set_total(std::optional<uint64_t> total) { total_ = total; }
  // Final redraw and newline; later updates are ignored until restart().
  void done();
  // Starts over for the next stream (recv -k, client -k).
  void restart(std::optional<uint64_t> total);

private:
  struct Sample {
    Timestamp at;
    uint64_t bytes;
  };
  void draw();
  double recent_rate(Timestamp now);

  loop::Loop &loop_;
  bool enabled_;
  std::optional<uint64_t> total_;
  uint64_t bytes_ = 0;
  std::optional<Timestamp> first_byte_;
  std::deque<Sample> samples_; // one per redraw, the last few seconds
  std::optional<loop::Timer> timer_;
  bool finished_ = false;
};

// Formats "12.3 MiB" and "45.6 MiB/s" (bytes over `elapsed`).
std::string human_bytes(uint64_t bytes);
std::string human_rate(double bytes_per_second);
std::string human_rate(uint64_t bytes, Duration elapsed);

} // namespace conec::cli
