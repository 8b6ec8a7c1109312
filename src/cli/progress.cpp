#include "progress.hpp"

#include <algorithm>
#include <cstdio>

namespace conec::cli {

namespace {
constexpr uint64_t kRedrawMs = 250;
constexpr Duration kRateWindow = 3 * kSecond; // "recent" rate: over this long
constexpr double kMiB = 1024.0 * 1024.0;

std::string clock_text(double seconds) {
  if (seconds >= 100 * 3600.0) return ">99h";
  auto s = static_cast<unsigned long long>(seconds);
  char buf[32];
  if (s >= 3600) std::snprintf(buf, sizeof(buf), "%llu:%02llu:%02llu", s / 3600, s / 60 % 60, s % 60);
  else std::snprintf(buf, sizeof(buf), "%llu:%02llu", s / 60, s % 60);
  return buf;
}
} // namespace

std::string human_bytes(uint64_t bytes) {
  const char *units[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
  double v = double(bytes);
  int u = 0;
  while (v >= 1024 && u < 6) {
    v /= 1024;
    ++u;
  }
  char buf[32];
  std::snprintf(buf, sizeof(buf), u ? "%.1f %s" : "%.0f %s", v, units[u]);
  return buf;
}

std::string human_rate(double bytes_per_second) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.1f MiB/s", bytes_per_second > 0 ? bytes_per_second / kMiB : 0.0);
  return buf;
}

std::string human_rate(uint64_t bytes, Duration elapsed) {
  return human_rate(elapsed > 0 ? double(bytes) / (double(elapsed) / 1e9) : 0.0);
}

std::string progress_line(const ProgressFigures &f) {
  std::string line = human_bytes(f.bytes);
  if (f.total) {
    // Integer percent that reaches 100 only once every announced byte is
    // here; an announced size that was too small stops it at 100.
    unsigned pct = 100;
    if (f.bytes < *f.total) pct = std::min(99u, static_cast<unsigned>(double(f.bytes) / double(*f.total) * 100));
    line += " / " + human_bytes(*f.total) + " (" + std::to_string(pct) + "%)";
  }
  line += "  " + human_rate(f.rate);
  if (f.final) {
    char secs[32];
    std::snprintf(secs, sizeof(secs), "  in %.1f s", double(f.elapsed) / 1e9);
    line += secs;
  } else if (f.total && f.bytes < *f.total) {
    line += "  ETA " + (f.rate > 0 ? clock_text(double(*f.total - f.bytes) / f.rate) : std::string("-:--"));
  }
  return line;
}

Progress::Progress(loop::Loop &loop, bool enabled, std::optional<uint64_t> total)
    : loop_(loop), enabled_(enabled), total_(total) {
  restart(total);
}

Progress::~Progress() { timer_.reset(); }

void Progress::restart(std::optional<uint64_t> total) {
  total_ = total;
  bytes_ = 0;
  first_byte_.reset();
  samples_.clear();
  finished_ = false;
  if (!enabled_) return;
  timer_.emplace(loop_, [this] { draw(); });
  timer_->start(kRedrawMs, kRedrawMs);
}

void Progress::update(uint64_t bytes) {
  if (finished_) return;
  if (bytes > 0) start_clock();
  bytes_ = bytes;
}

void Progress::start_clock() {
  if (first_byte_ || finished_) return;
  first_byte_ = monotonic_now();
  samples_.push_back({*first_byte_, bytes_});
}

double Progress::recent_rate(Timestamp now) {
  if (!first_byte_) return 0;
  samples_.push_back({now, bytes_});
  // Keep one sample at or before the window's start: the rate spans the
  // whole window once the transfer is older than it.
  while (samples_.size() > 2 && samples_[1].at + kRateWindow <= now) samples_.pop_front();
  const Sample &from = samples_.front();
  if (now <= from.at) return 0;
  return double(bytes_ - from.bytes) / (double(now - from.at) / 1e9);
}

void Progress::draw() {
  if (!first_byte_) return; // nothing moved yet: waiting for the peer
  ProgressFigures f{bytes_, total_, recent_rate(monotonic_now()), false, 0};
  std::fprintf(stderr, "\r%-70s", progress_line(f).c_str());
  std::fflush(stderr);
}

void Progress::done() {
  if (!enabled_ || finished_) return;
  finished_ = true;
  timer_.reset();
  Duration elapsed = first_byte_ ? monotonic_now() - *first_byte_ : 0;
  ProgressFigures f{bytes_, total_, elapsed ? double(bytes_) / (double(elapsed) / 1e9) : 0.0, true, elapsed};
  std::fprintf(stderr, "\r%-70s\n", progress_line(f).c_str());
  std::fflush(stderr);
}

} // namespace conec::cli
