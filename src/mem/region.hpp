// Large, long-lived, page-aligned memory for per-worker tables: private anonymous
// mappings that the kernel may back with transparent huge pages (THP "madvise"
// mode, Debian's default). Touching a few hundred MiB at start-up then costs a
// fault per 2 MiB instead of one per 4 KiB, and so does giving it back at exit.
// Mapped once at start-up; never on the packet path.
#pragma once

#include <sys/mman.h>

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <new>
#include <type_traits>
#include <utility>

namespace ws::mem {

inline constexpr size_t kHugePage = size_t{2} << 20;

// Which pages a Region is advised to take.
//   Huge: all of it in huge pages, for memory touched at random (a table's buckets)
//         or committed up front.
//   Grow: the first huge page's worth in small pages, the rest huge, for arrays
//         filled from index 0: while small they commit 4 KiB at a time (a short
//         replay touches a few pages of each, not 2 MiB), and once large they have
//         the huge pages' reach.
enum class Pages { Huge, Grow };

// How populate() commits a page.
//   Touch:  an atomic add of zero at each 4 KiB (contents kept). A fault takes only
//           its own mapping's lock, where MADV_POPULATE_WRITE holds the process's
//           mmap lock while it zeroes each huge page and so stalls every other
//           thread's mmap (the EAL's start-up) behind it. Not while another thread
//           writes the memory: the touch would race with its stores.
//   Beside: MADV_POPULATE_WRITE (Linux 5.14), contents never read or written: for
//           memory that its owner may already be writing (records committed ahead
//           of a running worker). Nothing where the kernel refuses it.
enum class Commit { Touch, Beside };

class Region {
public:
    Region() = default;
    // Reserves `bytes` rounded up to whole 2 MiB pages, 2 MiB aligned. Nothing is
    // touched: memory is committed as it is first written. Throws std::bad_alloc
    // when the address space cannot be had.
    explicit Region(size_t bytes, Pages pages = Pages::Huge) {
        len_ = (bytes + kHugePage - 1) / kHugePage * kHugePage;
        if (len_ == 0) return;
        const size_t span = len_ + kHugePage;  // over-reserve to align the start, then trim
        void* raw = mmap(nullptr, span, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
        if (raw == MAP_FAILED) throw std::bad_alloc();
        const auto a = reinterpret_cast<uintptr_t>(raw);
        const uintptr_t start = (a + kHugePage - 1) & ~(uintptr_t{kHugePage} - 1);
        if (start > a) munmap(raw, start - a);
        const uintptr_t end = start + len_;
        if (a + span > end) munmap(reinterpret_cast<void*>(end), a + span - end);
        base_ = reinterpret_cast<void*>(start);
        // Advice only: refused where THP is "never", harmless then.
        const size_t head = pages == Pages::Grow ? kHugePage : 0;
        if (len_ > head) madvise(static_cast<char*>(base_) + head, len_ - head, MADV_HUGEPAGE);
    }
    ~Region() {
        if (base_ != nullptr) munmap(base_, len_);
    }
    Region(Region&& o) noexcept
        : base_(std::exchange(o.base_, nullptr)), len_(std::exchange(o.len_, 0)) {}
    Region& operator=(Region&& o) noexcept {
        std::swap(base_, o.base_);
        std::swap(len_, o.len_);
        return *this;
    }
    Region(const Region&) = delete;
    Region& operator=(const Region&) = delete;

    void* data() const noexcept { return base_; }
    size_t size() const noexcept { return len_; }

    // Commits every page now, writable, a huge page at a time until done or `stop`
    // is set. For memory first touched at random: left to fault, each first read
    // maps the shared zero page and the write after it faults again to replace it,
    // on the packet path.
    void populate(const std::atomic<bool>* stop = nullptr, Commit how = Commit::Touch) const noexcept {
        populate(0, len_, stop, how);
    }

    // The same for bytes [from, to): the huge pages (whole) they lie in, or with
    // Commit::Beside the 4 KiB pages, since a huge page is committed whole anyway
    // and walking one again page by page where it is still small costs as much as
    // its first commit.
    void populate(size_t from, size_t to, const std::atomic<bool>* stop = nullptr,
                  Commit how = Commit::Touch) const noexcept {
#ifndef MADV_POPULATE_WRITE
        constexpr int MADV_POPULATE_WRITE = 23;
#endif
        constexpr size_t kPage = 4096;
        char* const p = static_cast<char*>(base_);
        to = to < len_ ? to : len_;
        if (how == Commit::Beside) {
            to = (to + kPage - 1) / kPage * kPage;  // len_ is a whole number of huge pages
            for (size_t at = from / kPage * kPage; at < to;) {
                if (stop != nullptr && stop->load(std::memory_order_relaxed)) return;
                const size_t end = std::min(to, (at / kHugePage + 1) * kHugePage);
                if (madvise(p + at, end - at, MADV_POPULATE_WRITE) != 0) return;
                at = end;
            }
            return;
        }
        for (size_t at = from / kHugePage * kHugePage; at < to; at += kHugePage) {
            if (stop != nullptr && stop->load(std::memory_order_relaxed)) return;
            const size_t end = at + kHugePage < len_ ? at + kHugePage : len_;
            for (size_t off = at; off < end; off += kPage) __atomic_fetch_add(p + off, 0, __ATOMIC_RELAXED);
        }
    }

private:
    void* base_ = nullptr;
    size_t len_ = 0;
};

}  // namespace ws::mem

namespace ws::mem {

// A fixed-size array of trivially constructible T on its own Region: zero-filled
// (fresh anonymous memory), and only the pages that are written ever cost memory.
template <class T>
class Array {
    static_assert(std::is_trivially_default_constructible_v<T> && std::is_trivially_destructible_v<T>);
    static_assert(alignof(T) <= 4096);

public:
    explicit Array(size_t n, Pages pages = Pages::Huge)
        : region_(n * sizeof(T), pages), p_(static_cast<T*>(region_.data())) {}
    T& operator[](size_t i) const noexcept { return p_[i]; }
    T* data() const noexcept { return p_; }
    void populate(const std::atomic<bool>* stop = nullptr) const noexcept { region_.populate(stop); }
    // Commits the pages that elements [first, first + count) lie in (whole huge pages,
    // or with Commit::Beside the 4 KiB pages: see Region::populate).
    void populate(size_t first, size_t count, const std::atomic<bool>* stop = nullptr,
                  Commit how = Commit::Touch) const noexcept {
        region_.populate(first * sizeof(T), (first + count) * sizeof(T), stop, how);
    }

private:
    Region region_;
    T* p_;
};

}  // namespace ws::mem
