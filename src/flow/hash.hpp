// The one 64-bit mixer of the core: SplitMix64's finaliser (Stafford's Mix13), a
// bijection with full avalanche. Used for record uids, the detection sketches and
// the standard-library flow table; rte_hash keeps its own CRC hash.
#pragma once

#include <cstdint>

namespace ws::flow {

constexpr uint64_t mix64(uint64_t x) noexcept {
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ull;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebull;
    x ^= x >> 31;
    return x;
}

}  // namespace ws::flow
