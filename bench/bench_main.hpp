// main() of the Google Benchmark binaries: an unknown argument is one line and exit
// 2 before anything runs (BENCHMARK_MAIN exits 1, and without the check the EAL's
// binaries ran every benchmark, ignoring it).
#pragma once

#include <benchmark/benchmark.h>

namespace ws::bench {

// Initialises Google Benchmark from the command line; false (after one line on
// stderr) when an argument is not one of its flags.
inline bool init_benchmarks(int& argc, char** argv) {
    benchmark::Initialize(&argc, argv);
    return !benchmark::ReportUnrecognizedArguments(argc, argv);
}

inline int run_benchmarks() {
    benchmark::RunSpecifiedBenchmarks();
    benchmark::Shutdown();
    return 0;
}

}  // namespace ws::bench
