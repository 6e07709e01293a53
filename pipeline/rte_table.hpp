// engine::Shard's Table policy on DPDK's rte_hash: one table per worker, one
// writer, no locks (no RW_CONCURRENCY flags). The index returned by
// rte_hash_add_key is the position of the connection's record in the shard's arrays.
#pragma once

#include <rte_errno.h>
#include <rte_hash.h>
#include <rte_common.h>
#include <rte_eal.h>
#include <rte_hash_crc.h>

#include <cstddef>
#include <cstdio>
#include <memory>
#include <stdexcept>
#include <string>

#include "flow/flow_key.hpp"
#include "huge_heap.hpp"

namespace ws::pipeline {

class RteTable {
public:
    RteTable(uint32_t capacity, int socket, unsigned worker) : cap_(capacity) {
        std::snprintf(name_, sizeof name_, "ws_flows_%u", worker);
        rte_hash_parameters p{};
        p.name = name_;
        p.entries = capacity;
        p.key_len = sizeof(Key);
        p.hash_func = rte_hash_crc;
        p.hash_func_init_val = 0;
        p.socket_id = socket;
        // Overflow buckets make `capacity` a guarantee rather than a cuckoo-path hope.
        p.extra_flag = RTE_HASH_EXTRA_FLAGS_EXT_TABLE;
        h_ = rte_hash_create(&p);
        if (h_ == nullptr)
            throw std::runtime_error("cannot create flow table of " + std::to_string(capacity) +
                                     " entries: " + rte_strerror(rte_errno));
    }
    ~RteTable() { rte_hash_free(h_); }
    RteTable(const RteTable&) = delete;
    RteTable& operator=(const RteTable&) = delete;

    uint32_t capacity() const noexcept { return cap_; }

    // Upper bound of the memory rte_hash_create allocates for `capacity` entries
    // (DPDK 22.11, EXT_TABLE, one writer): key store (8 + key, 16-aligned: 64 B per
    // slot), main and overflow buckets (64 B per 8 entries, power of two), the
    // free-slot and free-bucket rings, plus allocator overhead.
    static size_t footprint(uint32_t capacity) noexcept {
        const size_t n = capacity, p2 = rte_align64pow2(n + 1);
        return 64 * (n + 1) + 2 * 64 * (p2 / 8) + 4 * p2 + 4 * (p2 / 8 + 1) + 4 * (n + 1) + (size_t{4} << 20);
    }

    void lookup_bulk(const flow::FlowKey* keys, uint32_t n, int32_t* idx) noexcept {
        Key padded[RTE_HASH_LOOKUP_BULK_MAX];
        const void* ptrs[RTE_HASH_LOOKUP_BULK_MAX];
        for (uint32_t done = 0; done < n;) {
            uint32_t m = n - done < RTE_HASH_LOOKUP_BULK_MAX ? n - done : RTE_HASH_LOOKUP_BULK_MAX;
            for (uint32_t i = 0; i < m; ++i) {
                padded[i] = Key(keys[done + i]);
                ptrs[i] = &padded[i];
            }
            rte_hash_lookup_bulk(h_, ptrs, m, idx + done);  // misses come back as -ENOENT
            for (uint32_t i = 0; i < m; ++i)
                if (idx[done + i] < 0) idx[done + i] = -1;
            done += m;
        }
    }
    int32_t lookup(const flow::FlowKey& k) noexcept {
        Key key(k);
        int32_t r = rte_hash_lookup(h_, &key);
        return r < 0 ? -1 : r;
    }
    int32_t add(const flow::FlowKey& k) noexcept {
        Key key(k);
        int32_t r = rte_hash_add_key(h_, &key);
        return r < 0 ? -1 : r;
    }
    void del(const flow::FlowKey& k) noexcept {
        Key key(k);
        rte_hash_del_key(h_, &key);
    }
    // The key in rte_hash's own key store (the index is its position there). A
    // stored key sits 8 bytes into a 16-aligned slot: it is read as the FlowKey it
    // begins with (alignment 2), never as a Key, whose alignas(16) it does not meet.
    const flow::FlowKey& key(uint32_t ix) const noexcept {
        void* p = nullptr;
        rte_hash_get_key_with_position(h_, static_cast<int32_t>(ix), &p);
        return *static_cast<const flow::FlowKey*>(p);
    }

private:
    // The key as rte_hash stores it: padded from 40 to 48 bytes, a length rte_hash
    // compares with vector instructions (40 falls back to memcmp), and with the
    // 8-byte data word a key slot is exactly one 64-byte line.
    struct alignas(16) Key {
        flow::FlowKey k;
        uint8_t zero[8];
        Key() = default;
        explicit Key(const flow::FlowKey& f) noexcept : k(f), zero{} {}
    };
    static_assert(sizeof(Key) == 48);
    static_assert(offsetof(Key, k) == 0, "key() reads a stored Key as the FlowKey it begins with");

    char name_[RTE_HASH_NAMESIZE];
    uint32_t cap_;
    rte_hash* h_ = nullptr;
};

// A worker's flow table where the pipeline keeps it: in EAL memory when the EAL
// has hugepages, otherwise in a HugeHeap of its own (see huge_heap.hpp). The
// benchmarks build theirs the same way.
class WorkerTable {
public:
    WorkerTable(uint32_t capacity, int socket, unsigned worker)
        : heap_(rte_eal_has_hugepages() ? nullptr
                                        : std::make_unique<HugeHeap>("ws_heap_" + std::to_string(worker),
                                                                     RteTable::footprint(capacity))),
          table_(capacity, heap_ ? heap_->socket() : socket, worker) {}

    RteTable& get() noexcept { return table_; }

private:
    std::unique_ptr<HugeHeap> heap_;  // declared first: freed after the table
    RteTable table_;
};

}  // namespace ws::pipeline
