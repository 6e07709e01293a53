// A private rte_malloc heap on memory of our own (DPDK "external memory",
// rte_malloc_heap_memory_add). Without hugetlbfs the EAL's memory is a memfd
// (shmem) that is faulted in 4 KiB at a time, zeroed on creation of a table and
// released page by page at exit; a worker's rte_hash of a million entries spends
// more time there than a whole replay spends tracking. In a heap of its own, on
// a mem::Region, the same table faults in 2 MiB pages where THP is available.
// Used only when the EAL runs without hugepages: rte_hash_create(...,
// socket_id = heap.socket()).
#pragma once

#include <rte_errno.h>
#include <rte_malloc.h>

#include <stdexcept>
#include <string>

#include "mem/region.hpp"

namespace ws::pipeline {

class HugeHeap {
public:
    HugeHeap(const std::string& name, size_t bytes) : name_(name), region_(bytes) {
        if (rte_malloc_heap_create(name_.c_str()) != 0)
            throw std::runtime_error("cannot create memory heap " + name_ + ": " + rte_strerror(rte_errno));
        if (rte_malloc_heap_memory_add(name_.c_str(), region_.data(), region_.size(), nullptr,
                                       static_cast<unsigned>(region_.size() / mem::kHugePage), mem::kHugePage) != 0) {
            std::string why = rte_strerror(rte_errno);
            rte_malloc_heap_destroy(name_.c_str());
            throw std::runtime_error("cannot add " + std::to_string(region_.size() >> 20) + " MiB to heap " + name_ +
                                     ": " + why);
        }
        socket_ = rte_malloc_heap_get_socket(name_.c_str());
    }
    // What was allocated from the heap must have been freed first.
    ~HugeHeap() {
        rte_malloc_heap_memory_remove(name_.c_str(), region_.data(), region_.size());
        rte_malloc_heap_destroy(name_.c_str());
    }
    HugeHeap(const HugeHeap&) = delete;
    HugeHeap& operator=(const HugeHeap&) = delete;

    int socket() const noexcept { return socket_; }

private:
    std::string name_;
    mem::Region region_;
    int socket_ = -1;
};

}  // namespace ws::pipeline
