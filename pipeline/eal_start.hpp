// Faster answers to two of the EAL's start-up costs (pipeline/eal_start.cpp).
#pragma once

namespace ws::pipeline {

#ifdef WS_EAL_WRAP
// Set while the EAL of a replay on capture time starts: its TSC calibration sleeps
// 10 ms instead of 100.
void eal_replay_start(bool on) noexcept;
#else
// DPDK linked shared: the EAL's calls to libc are not the binary's to answer.
inline void eal_replay_start(bool) noexcept {}
#endif

}  // namespace ws::pipeline
