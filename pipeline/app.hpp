// The wirestate DPDK application: EAL, the watched port, worker lcores each owning
// a Shard, an optional software-RSS distributor, and the management core that
// writes every output.
#pragma once

#include "options.hpp"

namespace ws::pipeline {

// Runs to completion (end of capture, or SIGINT/SIGTERM). Returns the process exit
// code; start-up problems throw UsageError (exit 2).
int run(Options& opt, const char* argv0);

}  // namespace ws::pipeline
