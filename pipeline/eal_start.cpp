// Two of the EAL's start-up costs, answered faster with the same results. The binary
// is linked with --wrap=access and --wrap=nanosleep (static DPDK only, see
// pipeline/meson.build): the calls the EAL's archives make to those two functions
// come here, and every call this file does not recognise goes on to libc unchanged.
//
// 1. rte_eal_cpu_init asks, for every CPU number below RTE_MAX_LCORE (128) and every
//    node below RTE_MAX_NUMA_NODES (32), whether /sys/devices/system/node/nodeN/cpuM
//    exists, and, several times over, whether /sys/devices/system/cpu/cpuM/topology/
//    core_id does: about 5,000 access() calls, nearly all failing, 18 ms on a 2-CPU
//    VM. They are answered from one listing of those directories, taken at the first
//    such question (the topology cannot change in between but by CPU hot-plug).
// 2. The EAL measures the TSC's frequency by reading it and CLOCK_MONOTONIC_RAW
//    across a 100 ms sleep, then rounds the result to 10 MHz. It divides by the time
//    the clock says passed, not by the time asked for, so the sleep's length only
//    sets how far the readings' own skew (tens of nanoseconds) can move the result.
//    While a replay's EAL starts, that sleep lasts 1 ms: 50 ns in 1 ms is 0.005%, 130
//    kHz at 2.6 GHz, well inside the rounding's 5 MHz either side; and a replay times
//    nothing by the TSC but its own statistics (capture time comes from the file).
//    Live capture and --infinite-rx, which stamp packets by the TSC, keep the full
//    100 ms.
#include "eal_start.hpp"

#include <dirent.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <set>
#include <utility>

extern "C" {
int __real_access(const char* path, int mode);
int __wrap_access(const char* path, int mode);
int __real_nanosleep(const struct timespec* req, struct timespec* rem);
int __wrap_nanosleep(const struct timespec* req, struct timespec* rem);
}

namespace ws::pipeline {
namespace {

std::atomic<bool> g_replay_start{false};

constexpr char kNodeDir[] = "/sys/devices/system/node";
constexpr char kCpuDir[] = "/sys/devices/system/cpu";

// "<prefix><digits><rest>": the number, or -1.
long number_after(const char* s, const char* prefix, const char** rest) {
    const size_t n = std::strlen(prefix);
    if (std::strncmp(s, prefix, n) != 0) return -1;
    s += n;
    if (*s < '0' || *s > '9') return -1;
    long v = 0;
    while (*s >= '0' && *s <= '9') {
        v = v * 10 + (*s++ - '0');
        if (v > 1 << 20) return -1;
    }
    *rest = s;
    return v;
}

// The entries "<prefix><digits>" of a directory, as numbers. False if it cannot be read.
bool numbered_entries(const char* dir, const char* prefix, std::set<long>& out) {
    DIR* d = opendir(dir);
    if (d == nullptr) return errno == ENOENT;  // no such directory: no entries
    while (const dirent* e = readdir(d)) {
        const char* rest;
        const long v = number_after(e->d_name, prefix, &rest);
        if (v >= 0 && *rest == '\0') out.insert(v);
    }
    closedir(d);
    return true;
}

struct Topology {
    bool ok = false;
    std::set<std::pair<long, long>> node_cpu;  // /sys/devices/system/node/nodeN/cpuM exists
    std::set<long> core_id;                    // /sys/devices/system/cpu/cpuM/topology/core_id exists
};

Topology read_topology() {
    Topology t;
    std::set<long> nodes, cpus;
    if (!numbered_entries(kNodeDir, "node", nodes) || !numbered_entries(kCpuDir, "cpu", cpus)) return t;
    char path[96];
    for (long n : nodes) {
        std::set<long> in;
        std::snprintf(path, sizeof path, "%s/node%ld", kNodeDir, n);
        if (!numbered_entries(path, "cpu", in)) return t;
        for (long c : in) t.node_cpu.insert({n, c});
    }
    for (long c : cpus) {
        std::snprintf(path, sizeof path, "%s/cpu%ld/topology/core_id", kCpuDir, c);
        if (__real_access(path, F_OK) == 0) t.core_id.insert(c);
    }
    t.ok = true;
    return t;
}

const Topology& topology() {
    static const Topology t = read_topology();
    return t;
}

// The answer to access(path, F_OK) for the two questions above: 0, -1 (errno
// ENOENT), or 1 when `path` is neither (or the listing failed).
int topology_answer(const char* path) {
    const char* rest;
    long node = -1, cpu = -1;
    if ((node = number_after(path, "/sys/devices/system/node/node", &rest)) >= 0) {
        cpu = number_after(rest, "/cpu", &rest);
        if (cpu < 0 || *rest != '\0') return 1;
        if (!topology().ok) return 1;
        return topology().node_cpu.count({node, cpu}) ? 0 : -1;
    }
    if ((cpu = number_after(path, "/sys/devices/system/cpu/cpu", &rest)) >= 0) {
        if (std::strcmp(rest, "/topology/core_id") != 0 || !topology().ok) return 1;
        return topology().core_id.count(cpu) ? 0 : -1;
    }
    return 1;
}

}  // namespace

void eal_replay_start(bool on) noexcept { g_replay_start.store(on, std::memory_order_relaxed); }

}  // namespace ws::pipeline

extern "C" int __wrap_access(const char* path, int mode) {
    if (mode == F_OK && path != nullptr) {
        const int a = ws::pipeline::topology_answer(path);
        if (a == 0) return 0;
        if (a < 0) {
            errno = ENOENT;
            return -1;
        }
    }
    return __real_access(path, mode);
}

extern "C" int __wrap_nanosleep(const struct timespec* req, struct timespec* rem) {
    if (req != nullptr && req->tv_sec == 0 && req->tv_nsec == 100000000 &&
        ws::pipeline::g_replay_start.load(std::memory_order_relaxed)) {
        const struct timespec shorter = {0, 1000000};
        return __real_nanosleep(&shorter, rem);
    }
    return __real_nanosleep(req, rem);
}
