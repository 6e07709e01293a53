// pipeline/eal_start.cpp, linked as the wirestate binary links it (--wrap=access,
// --wrap=nanosleep): this file's own calls to access() and nanosleep() go through it.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <ctime>

#include "eal_start.hpp"

#if defined(__x86_64__)
#include <x86intrin.h>
#endif

extern "C" int __real_access(const char* path, int mode);

namespace ws::pipeline {
namespace {

// Every question rte_eal_cpu_init asks (RTE_MAX_NUMA_NODES 32, RTE_MAX_LCORE 128 in
// Debian's DPDK), and a few beyond, answered as the kernel answers them.
TEST(EalStart, TopologyAnswersAreTheKernels) {
    char path[96];
    unsigned present = 0;
    for (int cpu = 0; cpu < 160; ++cpu) {
        for (int node = 0; node < 40; ++node) {
            std::snprintf(path, sizeof path, "/sys/devices/system/node/node%d/cpu%d", node, cpu);
            errno = 0;
            const int ours = access(path, F_OK);
            const int ours_errno = errno;
            errno = 0;
            const int real = __real_access(path, F_OK);
            ASSERT_EQ(ours, real) << path;
            if (real != 0) {
                ASSERT_EQ(ours_errno, errno) << path;
            }
            present += real == 0;
        }
        std::snprintf(path, sizeof path, "/sys/devices/system/cpu/cpu%d/topology/core_id", cpu);
        ASSERT_EQ(access(path, F_OK), __real_access(path, F_OK)) << path;
    }
    EXPECT_GT(present, 0u) << "no CPU listed under any NUMA node";
}

TEST(EalStart, OtherQuestionsGoToTheKernel) {
    EXPECT_EQ(access("/sys/devices/system/cpu", F_OK), 0);
    EXPECT_EQ(access("/sys/devices/system/node/node0/cpu0/", F_OK), __real_access("/sys/devices/system/node/node0/cpu0/", F_OK));
    EXPECT_EQ(access("/sys/devices/system/cpu/cpu0/topology/core_id", R_OK),
              __real_access("/sys/devices/system/cpu/cpu0/topology/core_id", R_OK));
    errno = 0;
    EXPECT_EQ(access("/no/such/path", F_OK), -1);
    EXPECT_EQ(errno, ENOENT);
}

double sleep_100ms() {
    const timespec req{0, 100000000};
    const auto t0 = std::chrono::steady_clock::now();
    EXPECT_EQ(nanosleep(&req, nullptr), 0);
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

TEST(EalStart, CalibrationSleepIsShortOnlyWhileAReplayStarts) {
    EXPECT_GE(sleep_100ms(), 0.1);
    eal_replay_start(true);
    const double during = sleep_100ms();
    eal_replay_start(false);
    EXPECT_GE(during, 0.001);
    EXPECT_LT(during, 0.095);  // 1 ms asked; a stall of 94 ms would be needed to fail
    EXPECT_GE(sleep_100ms(), 0.1);
    const timespec other{0, 1000000};  // other sleeps are never touched
    eal_replay_start(true);
    const auto t0 = std::chrono::steady_clock::now();
    EXPECT_EQ(nanosleep(&other, nullptr), 0);
    eal_replay_start(false);
    EXPECT_GE(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(), 0.001);
}

#if defined(__x86_64__)
// The TSC's frequency as the EAL measures it (eal_timer.c, get_tsc_freq): the cycles
// and CLOCK_MONOTONIC_RAW across a 100 ms nanosleep, before its rounding to 10 MHz.
double tsc_hz_as_the_eal_measures() {
    timespec a{}, b{};
    const timespec req{0, 100000000};
    clock_gettime(CLOCK_MONOTONIC_RAW, &a);
    const uint64_t start = __rdtsc();
    EXPECT_EQ(nanosleep(&req, nullptr), 0);
    clock_gettime(CLOCK_MONOTONIC_RAW, &b);
    const uint64_t end = __rdtsc();
    const double secs = static_cast<double>(b.tv_sec - a.tv_sec) + static_cast<double>(b.tv_nsec - a.tv_nsec) / 1e9;
    return static_cast<double>(end - start) / secs;
}

// The shortened sleep must not move the result: the rounding's step is 10 MHz, and the
// short measurement (median of five) stays within 0.05% (1.3 MHz at 2.6 GHz) of the full one.
TEST(EalStart, ShortCalibrationMeasuresTheSameFrequency) {
    const double full = tsc_hz_as_the_eal_measures();
    double shorts[5];
    eal_replay_start(true);
    for (double& h : shorts) h = tsc_hz_as_the_eal_measures();
    eal_replay_start(false);
    std::sort(shorts, shorts + 5);
    EXPECT_NEAR(shorts[2], full, full * 5e-4) << "full " << full << " Hz, short " << shorts[2] << " Hz";
}
#endif

}  // namespace
}  // namespace ws::pipeline
