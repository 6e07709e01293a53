// Command-line numbers for the benchmark programs (wsgen, bench-capture): digits
// only, no sign, no overflow, within [lo, hi].
#pragma once

#include <charconv>
#include <cstdint>
#include <optional>
#include <string_view>

namespace ws::bench {

inline std::optional<uint64_t> whole_number(std::string_view v, uint64_t lo = 0, uint64_t hi = UINT64_MAX) {
    uint64_t x = 0;
    const auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), x);
    if (v.empty() || ec != std::errc() || end != v.data() + v.size() || x < lo || x > hi) return std::nullopt;
    return x;
}

}  // namespace ws::bench
