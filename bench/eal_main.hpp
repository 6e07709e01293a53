// main() of the benchmarks that need DPDK (rte_hash lives in EAL memory): starts
// the EAL without hugepages or PCI on one lcore, runs the benchmarks, cleans up.
#pragma once

#include <rte_eal.h>
#include <rte_errno.h>

#include <cstdio>
#include <string>
#include <vector>

#include "bench_main.hpp"

namespace ws::bench {

inline int run_under_eal(int argc, char** argv, const char* name) {
    if (!init_benchmarks(argc, argv)) return 2;
    std::vector<std::string> args = {name,       "--no-huge", "--no-pci", "--no-shconf",
                                     "-m",       "6144",      "--log-level=lib.*:error",
                                     "--no-telemetry", "-l",  "0"};
    std::vector<char*> eal;
    for (auto& a : args) eal.push_back(a.data());
    if (rte_eal_init(static_cast<int>(eal.size()), eal.data()) < 0) {
        std::fprintf(stderr, "%s: EAL initialisation failed: %s\n", name, rte_strerror(rte_errno));
        return 2;
    }
    run_benchmarks();
    rte_eal_cleanup();
    return 0;
}

}  // namespace ws::bench
