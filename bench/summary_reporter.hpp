// bench/summary_reporter.hpp — a console reporter that also remembers one
// counter per benchmark, so main() can print ratios after the run.
//
// With --benchmark_repetitions=N the median aggregate is used; with a single
// repetition, the one run.
#pragma once

#include <benchmark/benchmark.h>
#include <unistd.h>

#include <map>
#include <optional>
#include <string>
#include <vector>

namespace fastrt_bench {

class summary_reporter : public benchmark::ConsoleReporter {
 public:
  // Colours only on a terminal (a reporter passed to RunSpecifiedBenchmarks
  // does not see --benchmark_color).
  summary_reporter() : ConsoleReporter(isatty(STDOUT_FILENO) ? OO_Defaults : OO_Tabular) {}

  void ReportRuns(const std::vector<Run>& runs) override {
    ConsoleReporter::ReportRuns(runs);
    for (const Run& run : runs) {
      if (run.error_occurred) continue;
      std::string name = run.run_name.function_name;
      if (!run.run_name.args.empty()) name += "/" + run.run_name.args;
      entry& e = entries_[name];
      if (run.run_type == Run::RT_Aggregate) {
        if (run.aggregate_name == "median") e.median = run.counters;
      } else {
        e.last = run.counters;
      }
    }
  }

  // The median (or only) value of `counter`, times `scale`, for the
  // benchmark named `name`: the function name plus "/args" if it has
  // arguments, without "/manual_time" or repetition suffixes.
  std::optional<double> value(const std::string& name, const std::string& counter,
                              double scale = 1.0) const {
    auto it = entries_.find(name);
    if (it == entries_.end()) return std::nullopt;
    const auto& counters = it->second.median ? *it->second.median : it->second.last;
    auto c = counters.find(counter);
    if (c == counters.end()) return std::nullopt;
    return static_cast<double>(c->second) * scale;
  }

 private:
  struct entry {
    std::optional<benchmark::UserCounters> median;
    benchmark::UserCounters last;
  };
  std::map<std::string, entry> entries_;
};

}  // namespace fastrt_bench
