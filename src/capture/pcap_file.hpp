// Classic pcap files read in place: the file is mapped read-only and every frame is
// handed out as a pointer into the mapping, never copied. libpcap (and DPDK's pcap
// PMD on top of it) reads through stdio in 4 KiB read() calls and copies each frame
// once more into an mbuf: 194K system calls and two copies for a 796 MB capture.
//
// The file is hostile input like any packet: a record that runs past the end of the
// file, or claims more than 256 KiB, ends the reading with a status saying which and
// where, never a read out of bounds. Frames longer than the file's snap length are
// cut to it, as libpcap does. pcapng and other formats are not read here (status
// NotPcap at open): the caller falls back to libpcap.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

namespace ws::capture {

struct Frame {
    const uint8_t* data;  // into the mapping: valid while the PcapFile lives
    uint32_t caplen;      // bytes captured (at most the snap length)
    uint32_t wirelen;     // bytes on the wire
    uint64_t ts_us;       // capture time; nanosecond files are truncated to microseconds
};

class PcapFile {
public:
    enum class Status {
        Ok,         // more frames may follow
        End,        // every record was read
        Truncated,  // the file ends inside a record (a capture cut short)
        BadRecord,  // a record claims more than kMaxCaplen bytes: the rest cannot be framed
    };
    enum class OpenError { None, System, NotPcap, BadHeader };

    // libpcap's bound on a record (MAXIMUM_SNAPLEN): beyond it a length is corrupt.
    static constexpr uint32_t kMaxCaplen = 262144;

    // Maps `path`. On failure returns nullptr, sets `err` and a one-line `why`.
    static std::unique_ptr<PcapFile> open(const std::string& path, OpenError& err, std::string& why);

    ~PcapFile();
    PcapFile(const PcapFile&) = delete;
    PcapFile& operator=(const PcapFile&) = delete;

    // Up to n next frames. Fewer means the reading stopped: status() says why.
    uint32_t next(Frame* out, uint32_t n) noexcept;

    Status status() const noexcept { return status_; }
    uint64_t offset() const noexcept { return pos_; }  // of the next record, or of the bad one
    uint64_t size() const noexcept { return size_; }
    uint32_t linktype() const noexcept { return linktype_; }
    uint32_t snaplen() const noexcept { return snaplen_; }
    bool nanosecond() const noexcept { return nano_; }

private:
    PcapFile() = default;

    const uint8_t* base_ = nullptr;
    uint64_t size_ = 0;
    uint64_t pos_ = 0;
    uint32_t linktype_ = 0;
    uint32_t snaplen_ = 0;
    bool swapped_ = false;
    bool nano_ = false;
    Status status_ = Status::Ok;
};

const char* to_string(PcapFile::Status s) noexcept;

}  // namespace ws::capture
