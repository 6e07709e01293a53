// mem::Region / mem::Array: the per-worker tables' memory.
#include <gtest/gtest.h>

#include <cstdint>

#include "mem/region.hpp"
#include "track/conn.hpp"

namespace ws::mem {
namespace {

TEST(Region, RoundsUpToWholeHugePagesAlignedOnOne) {
    Region r(kHugePage + 1);
    EXPECT_EQ(r.size(), 2 * kHugePage);
    EXPECT_EQ(reinterpret_cast<uintptr_t>(r.data()) % kHugePage, 0u);
}

TEST(Region, MoveLeavesTheSourceEmpty) {
    Region a(100);
    void* p = a.data();
    Region b(std::move(a));
    EXPECT_EQ(b.data(), p);
    EXPECT_EQ(a.data(), nullptr);
    EXPECT_EQ(a.size(), 0u);
}

TEST(Array, StartsZeroedAndKeepsWhatIsWritten) {
    Array<track::Conn> conns(1000);
    EXPECT_EQ(reinterpret_cast<uintptr_t>(conns.data()) % alignof(track::Conn), 0u);
    EXPECT_EQ(conns[0].last_ts_us, 0u);
    EXPECT_EQ(conns[999].flags, 0u);
    conns[999].pkts[1] = 7;
    EXPECT_EQ(conns[999].pkts[1], 7u);
    Array<uint8_t> flags(3 * kHugePage);  // larger than one huge page: untouched pages read zero
    EXPECT_EQ(flags[3 * kHugePage - 1], 0u);
}

}  // namespace
}  // namespace ws::mem
