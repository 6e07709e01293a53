// Capture files read in place: the file is mapped read-only and every frame is
// handed out as a pointer into the mapping, never copied. libpcap (and DPDK's pcap
// PMD on top of it) reads through stdio in 4 KiB read() calls and copies each frame
// once more into an mbuf: 194K system calls and two copies for a 796 MB capture.
//
// Both formats libpcap reads: classic pcap (format 2.4, either byte order, micro- or
// nanosecond times) and pcapng (Enhanced and Simple Packet Blocks, and the obsolete
// Packet Blocks libpcap still reads; each interface's time resolution and offset;
// other blocks skipped). Times are microseconds, converted as libpcap converts them
// for a reader that asks for microseconds.
//
// The file is hostile input like any packet: a record or block that runs past the
// end of the file, or that cannot be framed (an impossible length, a block trailer
// that does not repeat its length, a packet on an interface never described,
// interfaces of differing link types or snap lengths, which libpcap also refuses),
// ends the reading with a status saying which and where, never a read out of bounds.
// Frames longer than the snap length are cut to it, as libpcap does. Anything else,
// and pcap before format 2.4 or DG/UX's 543.0 (whose record lengths libpcap swaps),
// is refused at open (NotPcap): the caller may fall back to libpcap.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace ws::capture {

// The fewest bytes a frame that can open a TCP connection takes in a capture file: a
// record's header (16 bytes in pcap and in a pcapng Simple Packet Block, 32 in an
// Enhanced one) and the IPv4 and TCP headers the parser needs whole (40 bytes, with no
// link header as LINKTYPE_RAW has none). A frame opens at most one connection, so a
// capture of B bytes opens at most B / 56, however its frames are cut.
inline constexpr uint64_t kMinOpeningFrameBytes = 16 + 20 + 20;
constexpr uint64_t max_opening_frames(uint64_t file_bytes) noexcept { return file_bytes / kMinOpeningFrameBytes; }

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
        BadRecord,  // a record or block that cannot be framed: the rest cannot be read
    };
    enum class Format { Pcap, Pcapng };
    enum class OpenError { None, System, NotPcap, BadHeader };

    // libpcap's bound on a classic pcap record (MAXIMUM_SNAPLEN), and on a pcapng
    // block: beyond them a length is corrupt. A pcapng frame may be as long as the
    // interface's snap length, which libpcap bounds only by the block's size.
    static constexpr uint32_t kMaxCaplen = 262144;
    static constexpr uint32_t kMaxBlock = 16u << 20;

    // Maps `path`. On failure returns nullptr, sets `err` and a one-line `why`.
    static std::unique_ptr<PcapFile> open(const std::string& path, OpenError& err, std::string& why);

    PcapFile& operator=(const PcapFile&) = delete;

    // Another reader of the same mapping, from the first record (each worker walks
    // the whole file with its own).
    std::unique_ptr<PcapFile> cursor() const;

    // Maps the pages of bytes [from, to) now (MADV_POPULATE_READ): faults taken here
    // are not taken by the readers. Best effort.
    void populate(uint64_t from, uint64_t to) const noexcept;
    // Unmaps the pages wholly inside bytes [from, to) (MADV_DONTNEED): they stay in
    // the page cache, and a reader that comes back to them maps them again. For pages
    // every reader has passed, so that the end of a run does not unmap them all.
    void release(uint64_t from, uint64_t to) const noexcept;

    // Up to n next frames. Fewer means the reading stopped: status() says why.
    uint32_t next(Frame* out, uint32_t n) noexcept;

    Status status() const noexcept { return status_; }
    uint64_t offset() const noexcept { return pos_; }  // of the next record, or of the bad one
    uint64_t size() const noexcept { return size_; }
    const uint8_t* bytes() const noexcept { return base_; }  // the mapped file, size() long
    Format format() const noexcept { return format_; }
    // The link type and snap length of the file (pcapng: of its first interface).
    uint32_t linktype() const noexcept { return linktype_; }
    uint32_t snaplen() const noexcept { return snaplen_; }
    bool nanosecond() const noexcept { return nano_; }  // classic pcap only
    // pcapng: the time units per second of interface `i` of the current section
    // (if_tsresol), or 0 if it is not described.
    uint64_t time_units(uint32_t i) const noexcept { return i < ifaces_.size() ? ifaces_[i].units : 0; }

private:
    // A pcapng interface: how its 64-bit times convert to seconds and microseconds.
    struct Interface {
        uint64_t units = 1000000;  // per second (if_tsresol)
        int64_t offset_s = 0;      // if_tsoffset
    };

    PcapFile() = default;
    PcapFile(const PcapFile&) = default;  // cursor()
    template <bool Swapped>
    uint32_t next_pcap(Frame* out, uint32_t n) noexcept;
    template <bool Swapped>
    uint32_t next_pcapng(Frame* out, uint32_t n) noexcept;
    // Reads an Interface Description Block's link type, snap length and options.
    bool describe(uint64_t at, uint32_t len, uint32_t& linktype, uint32_t& snaplen, Interface& ifc) const noexcept;
    static uint64_t ts_us(const Interface& ifc, uint64_t t) noexcept;

    std::shared_ptr<const uint8_t> map_;  // the mapping, unmapped with its last reader
    const uint8_t* base_ = nullptr;
    uint64_t size_ = 0;
    uint64_t start_ = 0;  // the first record
    uint64_t pos_ = 0;
    uint64_t ahead_ = 0;  // read_ahead(): lines before this offset are already requested
    uint32_t linktype_ = 0;
    uint32_t snaplen_ = 0;
    bool swapped_ = false;
    bool nano_ = false;
    Format format_ = Format::Pcap;
    std::vector<Interface> ifaces_;  // pcapng: the current section's, grown at each description
    Status status_ = Status::Ok;
};

const char* to_string(PcapFile::Status s) noexcept;

}  // namespace ws::capture
