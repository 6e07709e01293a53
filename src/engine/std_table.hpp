// A flow table on the standard library: the oracle for engine::FlowTable's tests
// and a table for tests of the shard. Not for the data path: it allocates on
// insert. The pipeline uses engine::FlowTable (or rte_hash) with the same interface.
#pragma once

#include <cstdint>
#include <cstring>
#include <unordered_map>
#include <vector>

#include "flow/flow_key.hpp"
#include "flow/hash.hpp"

namespace ws::engine {

struct FlowKeyHash {
    size_t operator()(const flow::FlowKey& k) const noexcept {
        uint64_t w[5];
        std::memcpy(w, &k, sizeof w);
        uint64_t h = 0;
        for (uint64_t x : w) h = flow::mix64(h ^ x);
        return static_cast<size_t>(h);
    }
};

class StdTable {
public:
    explicit StdTable(uint32_t capacity) : cap_(capacity), keys_(capacity) {
        free_.reserve(capacity);
        for (uint32_t i = capacity; i > 0; --i) free_.push_back(i - 1);
        map_.reserve(capacity);
    }
    uint32_t capacity() const noexcept { return cap_; }
    int32_t lookup(const flow::FlowKey& k) const {
        auto it = map_.find(k);
        return it == map_.end() ? -1 : it->second;
    }
    void lookup_bulk(const flow::FlowKey* keys, uint32_t n, int32_t* idx) const {
        for (uint32_t i = 0; i < n; ++i) idx[i] = lookup(keys[i]);
    }
    int32_t add(const flow::FlowKey& k) {
        if (auto it = map_.find(k); it != map_.end()) return it->second;
        if (free_.empty()) return -1;
        int32_t ix = static_cast<int32_t>(free_.back());
        free_.pop_back();
        map_.emplace(k, ix);
        keys_[static_cast<size_t>(ix)] = k;
        return ix;
    }
    void del(const flow::FlowKey& k) {
        auto it = map_.find(k);
        if (it == map_.end()) return;
        free_.push_back(static_cast<uint32_t>(it->second));
        map_.erase(it);
    }
    size_t size() const noexcept { return map_.size(); }
    const flow::FlowKey& key(uint32_t ix) const noexcept { return keys_[ix]; }

private:
    uint32_t cap_;
    std::unordered_map<flow::FlowKey, int32_t, FlowKeyHash> map_;
    std::vector<uint32_t> free_;
    std::vector<flow::FlowKey> keys_;
};

}  // namespace ws::engine
