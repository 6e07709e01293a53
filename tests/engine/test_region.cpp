// mem::Region / mem::Array: the per-worker tables' memory.
#include <gtest/gtest.h>
#include <sys/mman.h>
#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

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

// Pages of r that are resident (mincore), counted.
size_t resident_pages(const Region& r) {
    const auto page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
    std::vector<unsigned char> v(r.size() / page);
    if (mincore(r.data(), r.size(), v.data()) != 0) return SIZE_MAX;
    size_t n = 0;
    for (unsigned char b : v) n += b & 1;
    return n;
}

TEST(Region, PopulateCommitsEveryPageAndKeepsItZero) {
    Region r(3 * kHugePage);
    ASSERT_EQ(resident_pages(r), 0u);  // fresh: nothing committed until touched
    r.populate();
    const auto page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
    EXPECT_EQ(resident_pages(r), r.size() / page);
    const auto* b = static_cast<const unsigned char*>(r.data());
    EXPECT_EQ(b[0], 0u);
    EXPECT_EQ(b[r.size() - 1], 0u);
}

// The system's THP mode: "always", "madvise" or "never" (the bracketed word).
std::string thp_mode() {
    std::ifstream f("/sys/kernel/mm/transparent_hugepage/enabled");
    std::string line;
    std::getline(f, line);
    const auto a = line.find('['), b = line.find(']');
    return a == std::string::npos || b == std::string::npos ? "never" : line.substr(a + 1, b - a - 1);
}

TEST(Region, GrowKeepsItsFirstHugePageInSmallPages) {
    if (thp_mode() == "always") GTEST_SKIP() << "THP \"always\": every mapping may take huge pages";
    Region r(2 * kHugePage, Pages::Grow);
    static_cast<volatile unsigned char*>(r.data())[0] = 1;
    // Advised huge like the rest, this first write would commit a whole 2 MiB page.
    EXPECT_EQ(resident_pages(r), 1u);
}

TEST(Region, PopulateKeepsWhatIsWritten) {
    Region r(2 * kHugePage, Pages::Grow);
    auto* b = static_cast<unsigned char*>(r.data());
    b[0] = 7;
    b[kHugePage + 4096] = 9;
    r.populate();
    EXPECT_EQ(b[0], 7u);
    EXPECT_EQ(b[kHugePage + 4096], 9u);
    EXPECT_EQ(b[1], 0u);
}

// Which pages of r are resident, one flag per page.
std::vector<bool> resident_map(const Region& r) {
    const auto page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
    std::vector<unsigned char> v(r.size() / page);
    EXPECT_EQ(mincore(r.data(), r.size(), v.data()), 0);
    std::vector<bool> m(v.size());
    for (size_t i = 0; i < v.size(); ++i) m[i] = v[i] & 1;
    return m;
}

TEST(Region, PopulateOfARangeCommitsTheHugePagesItTouchesOnly) {
    Region r(4 * kHugePage);
    r.populate(kHugePage + 10, 2 * kHugePage + 10);  // ends inside the third huge page
    const auto page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
    const auto m = resident_map(r);
    const size_t per = kHugePage / page;
    for (size_t i = 0; i < m.size(); ++i) EXPECT_EQ(m[i], i >= per && i < 3 * per) << "page " << i;
}

TEST(Array, PopulateOfElementsCommitsTheirPages) {
    Array<track::ConnCold> cold(4 * kHugePage / sizeof(track::ConnCold));
    const size_t per_huge = kHugePage / sizeof(track::ConnCold);
    cold.populate(per_huge, per_huge);  // exactly the second huge page
    const auto page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
    std::vector<unsigned char> v(4 * kHugePage / page);
    ASSERT_EQ(mincore(cold.data(), 4 * kHugePage, v.data()), 0);
    size_t n = 0, outside = 0;
    for (size_t i = 0; i < v.size(); ++i) {
        const bool in = i >= kHugePage / page && i < 2 * kHugePage / page;
        (in ? n : outside) += v[i] & 1;
    }
    EXPECT_EQ(n, kHugePage / page);
    EXPECT_EQ(outside, 0u);
}

TEST(Region, PopulateBesideCommitsTheSmallPagesOfTheRangeOnly) {
    if (thp_mode() == "always") GTEST_SKIP() << "THP \"always\": every mapping may take huge pages";
    Region r(2 * kHugePage, Pages::Grow);  // the first huge page's worth stays in small pages
    const auto page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
    r.populate(3 * page + 1, 5 * page, nullptr, Commit::Beside);  // pages 3 and 4
    const auto m = resident_map(r);
    for (size_t i = 0; i < kHugePage / page; ++i) EXPECT_EQ(m[i], i == 3 || i == 4) << "page " << i;
}

// The records a worker writes while the Prefault thread commits them beside it.
TEST(Region, PopulateBesideKeepsWhatAnotherThreadWrites) {
    Region r(8 * kHugePage);
    auto* b = static_cast<volatile unsigned char*>(r.data());
    std::atomic<bool> go{false};
    std::thread writer([&] {
        while (!go.load()) {
        }
        for (size_t off = 0; off < r.size(); off += 512) b[off] = static_cast<unsigned char>(off / 512 % 251 + 1);
    });
    go.store(true);
    r.populate(0, r.size(), nullptr, Commit::Beside);
    writer.join();
    EXPECT_EQ(resident_pages(r), r.size() / static_cast<size_t>(sysconf(_SC_PAGESIZE)));
    size_t wrong = 0;
    for (size_t off = 0; off < r.size(); off += 512) wrong += b[off] != off / 512 % 251 + 1;
    EXPECT_EQ(wrong, 0u);
}

TEST(Region, PopulateStopsWhenTold) {
    Region r(2 * kHugePage);
    std::atomic<bool> stop{true};
    r.populate(&stop);
    EXPECT_EQ(resident_pages(r), 0u);
}

}  // namespace
}  // namespace ws::mem
