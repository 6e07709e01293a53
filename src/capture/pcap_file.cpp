#include "capture/pcap_file.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace ws::capture {

namespace {

constexpr uint32_t kMagicUs = 0xa1b2c3d4, kMagicNs = 0xa1b23c4d;
constexpr uint32_t kFileHeader = 24, kRecordHeader = 16;
// pcapng block types, and the Section Header Block's byte-order magic.
// kPb is the obsolete Packet Block: an EPB with a 16-bit interface and a drop count.
constexpr uint32_t kShb = 0x0a0d0d0a, kIdb = 1, kPb = 2, kSpb = 3, kEpb = 6, kByteOrder = 0x1a2b3c4d;
constexpr uint32_t kShbMin = 28, kIdbMin = 20, kSpbMin = 16, kEpbMin = 32, kMaxShb = 1u << 20;

uint32_t load32(const uint8_t* p, bool swapped) noexcept {
    uint32_t v;
    std::memcpy(&v, p, 4);
    return swapped ? __builtin_bswap32(v) : v;
}

uint16_t load16(const uint8_t* p, bool swapped) noexcept {
    uint16_t v;
    std::memcpy(&v, p, 2);
    return swapped ? __builtin_bswap16(v) : v;
}

template <bool Swapped>
uint32_t load32_as(const uint8_t* p) noexcept {
    uint32_t v;
    std::memcpy(&v, p, 4);
    return Swapped ? __builtin_bswap32(v) : v;
}

template <bool Swapped>
uint16_t load16_as(const uint8_t* p) noexcept {
    uint16_t v;
    std::memcpy(&v, p, 2);
    return Swapped ? __builtin_bswap16(v) : v;
}

uint64_t load64(const uint8_t* p, bool swapped) noexcept {
    uint64_t v;
    std::memcpy(&v, p, 8);
    return swapped ? __builtin_bswap64(v) : v;
}

// libpcap's snapshot: the file's snap length, unless unset or beyond INT_MAX.
uint32_t usable_snaplen(uint32_t s) noexcept { return s == 0 || s > 0x7fffffffu ? PcapFile::kMaxCaplen : s; }

}  // namespace

std::unique_ptr<PcapFile> PcapFile::open(const std::string& path, OpenError& err, std::string& why) {
    err = OpenError::System;
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        why = "cannot open " + path + ": " + std::strerror(errno);
        return nullptr;
    }
    struct stat st {};
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        why = path + " is not a regular file";
        ::close(fd);
        return nullptr;
    }
    const auto size = static_cast<uint64_t>(st.st_size);
    uint8_t hdr[kFileHeader];
    if (size < kFileHeader || pread(fd, hdr, sizeof hdr, 0) != static_cast<ssize_t>(sizeof hdr)) {
        err = OpenError::BadHeader;
        why = path + " is too short for a pcap file header";
        ::close(fd);
        return nullptr;
    }
    uint32_t magic;
    std::memcpy(&magic, hdr, 4);
    std::unique_ptr<PcapFile> f(new PcapFile());
    if (magic == kShb) {
        f->format_ = Format::Pcapng;
        uint32_t bom;
        std::memcpy(&bom, hdr + 8, 4);
        if (bom != kByteOrder && __builtin_bswap32(bom) != kByteOrder) {
            err = OpenError::BadHeader;
            why = path + ": pcapng section header with an unknown byte-order magic";
            ::close(fd);
            return nullptr;
        }
        f->swapped_ = bom != kByteOrder;
        // libpcap's checks of the first section header: versions 1.0 and 1.2, at most
        // 1 MiB long (but any length, and any trailer, past that).
        const uint32_t shb_len = load32(hdr + 4, f->swapped_);
        const uint16_t major = load16(hdr + 12, f->swapped_), minor = load16(hdr + 14, f->swapped_);
        if (major != 1 || (minor != 0 && minor != 2) || shb_len < kShbMin || shb_len > kMaxShb || shb_len > size) {
            err = OpenError::BadHeader;
            why = path + ": pcapng section header of version " + std::to_string(major) + "." + std::to_string(minor) +
                  " or of length " + std::to_string(shb_len) + " is not one libpcap reads";
            ::close(fd);
            return nullptr;
        }
        f->pos_ = shb_len;
    } else if (magic == kMagicUs || magic == kMagicNs) {
        f->swapped_ = false;
    } else if (__builtin_bswap32(magic) == kMagicUs || __builtin_bswap32(magic) == kMagicNs) {
        f->swapped_ = true;
        magic = __builtin_bswap32(magic);
    } else {
        err = OpenError::NotPcap;
        why = path + " is neither a pcap nor a pcapng file";
        ::close(fd);
        return nullptr;
    }
    if (f->format_ == Format::Pcap) {
        f->nano_ = magic == kMagicNs;
        const uint16_t major = load16(hdr + 4, f->swapped_), minor = load16(hdr + 6, f->swapped_);
        const std::string version = std::to_string(major) + "." + std::to_string(minor);
        if ((major == 2 && minor < 4) || (major == 543 && minor == 0)) {
            // Before 2.4 a record's two lengths may be in the other order, which libpcap
            // undoes (always before 2.3, where caplen > len in 2.3); DG/UX's 543.0 has
            // them in the other order always. Let libpcap read these.
            err = OpenError::NotPcap;
            why = path + ": pcap format version " + version + ", whose record lengths libpcap may swap";
            ::close(fd);
            return nullptr;
        }
        if (!(major == 2 && minor == 4)) {  // the last of libpcap's list
            err = OpenError::BadHeader;
            why = path + ": pcap format version " + version + " is not one libpcap reads";
            ::close(fd);
            return nullptr;
        }
        f->snaplen_ = usable_snaplen(load32(hdr + 16, f->swapped_));
        f->linktype_ = load32(hdr + 20, f->swapped_) & 0x03FFFFFF;  // upper bits: FCS length
        f->pos_ = kFileHeader;
    }
    f->size_ = size;
    void* m = mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
    ::close(fd);
    if (m == MAP_FAILED) {
        why = "cannot map " + path + ": " + std::strerror(errno);
        return nullptr;
    }
    // Read once, front to back: read ahead, and let the kernel drop what is behind.
    madvise(m, size, MADV_SEQUENTIAL);
    madvise(m, size, MADV_WILLNEED);
    f->base_ = static_cast<const uint8_t*>(m);
    f->map_ = std::shared_ptr<const uint8_t>(f->base_, [size](const uint8_t* p) {
        munmap(const_cast<uint8_t*>(p), size);
    });
    if (f->format_ == Format::Pcapng) {
        // The link type and snap length are the first interface's, which must be
        // described before any packet (libpcap refuses the file otherwise). Blocks
        // before it, another section header included, libpcap passes over unread:
        // the reading starts at the description.
        bool found = false;
        for (uint64_t at = f->pos_; size - at >= 12;) {
            const uint8_t* b = f->base_ + at;
            const uint32_t type = load32(b, f->swapped_), len = load32(b + 4, f->swapped_);
            if (len < 12 || len % 4 != 0 || len > kMaxBlock || len > size - at || load32(b + len - 4, f->swapped_) != len ||
                type == kEpb || type == kSpb || type == kPb)
                break;
            Interface ifc;
            if (type == kIdb) {
                found = f->describe(at, len, f->linktype_, f->snaplen_, ifc);
                f->pos_ = at;
                break;
            }
            at += len;
        }
        if (!found) {
            err = OpenError::BadHeader;
            why = path + ": no pcapng interface description before the first packet";
            return nullptr;
        }
    }
    f->start_ = f->pos_;
    err = OpenError::None;
    return f;
}

std::unique_ptr<PcapFile> PcapFile::cursor() const {
    std::unique_ptr<PcapFile> c(new PcapFile(*this));
    c->pos_ = start_;
    c->ahead_ = 0;
    c->status_ = Status::Ok;
    c->ifaces_.clear();
    return c;
}

void PcapFile::populate(uint64_t from, uint64_t to) const noexcept {
#ifndef MADV_POPULATE_READ
    constexpr int MADV_POPULATE_READ = 22;  // Linux 5.14
#endif
    const auto page = static_cast<uint64_t>(sysconf(_SC_PAGESIZE));
    from = from / page * page;
    to = std::min(to, size_);
    if (from >= to) return;
    madvise(const_cast<uint8_t*>(base_) + from, (to - from + page - 1) / page * page, MADV_POPULATE_READ);
}

void PcapFile::release(uint64_t from, uint64_t to) const noexcept {
    const auto page = static_cast<uint64_t>(sysconf(_SC_PAGESIZE));
    from = (from + page - 1) / page * page;
    to = to >= size_ ? (size_ + page - 1) / page * page : to / page * page;  // the file's last page is whole to us
    if (from >= to) return;
    madvise(const_cast<uint8_t*>(base_) + from, to - from, MADV_DONTNEED);
}

bool PcapFile::describe(uint64_t at, uint32_t len, uint32_t& linktype, uint32_t& snaplen,
                        Interface& ifc) const noexcept {
    if (len < kIdbMin) return false;
    const uint8_t* b = base_ + at;
    linktype = load16(b + 8, swapped_);
    snaplen = usable_snaplen(load32(b + 12, swapped_));
    ifc = Interface{};
    for (uint32_t off = 16; off + 4 <= len - 4;) {
        const uint16_t code = load16(b + off, swapped_), olen = load16(b + off + 2, swapped_);
        if (code == 0) break;  // opt_endofopt
        if (olen > len - 4 - off - 4) return false;
        const uint8_t* v = b + off + 4;
        if (code == 9 && olen == 1) {  // if_tsresol: 10^-n, or 2^-n with the top bit set
            const uint8_t r = v[0];
            if (r & 0x80) {
                if ((r & 0x7f) > 63) return false;
                ifc.units = uint64_t{1} << (r & 0x7f);
            } else {
                if (r > 19) return false;
                ifc.units = 1;
                for (uint8_t i = 0; i < r; ++i) ifc.units *= 10;
            }
        } else if (code == 14 && olen == 8) {  // if_tsoffset, seconds
            ifc.offset_s = static_cast<int64_t>(load64(v, swapped_));
        }
        off += 4 + ((olen + 3u) & ~3u);
    }
    return true;
}

namespace {

[[gnu::noinline]] uint64_t scaled_ts_us(uint64_t units, int64_t offset_s, uint64_t t) noexcept {
    const uint64_t sec = t / units + static_cast<uint64_t>(offset_s), frac = t % units;
    __extension__ using u128 = unsigned __int128;  // frac * 10^6 may not fit 64 bits (binary resolutions)
    return sec * 1000000u + static_cast<uint64_t>(u128{frac} * 1000000u / units);
}

}  // namespace

inline uint64_t PcapFile::ts_us(const Interface& ifc, uint64_t t) noexcept {
    // Microsecond units, the default and nearly every file: seconds * 10^6 plus the
    // remainder is t itself (modulo 2^64, as in scaled_ts_us), plus the offset.
    if (ifc.units == 1000000) return t + static_cast<uint64_t>(ifc.offset_s) * 1000000u;
    return scaled_ts_us(ifc.units, ifc.offset_s, t);
}

namespace {

// A record's header says where the next one starts, so reading a capture is a chain
// of dependent loads; at full frame size each is a miss the hardware prefetcher does
// not foresee (records 800 bytes apart, and it stops at 4 KiB boundaries). Keeping
// every line of the next kReadAhead bytes requested turns the chain into a stream:
// the 796 MB peers capture read alone, 118 -> 46 ms; a whole replay of it, 291 ->
// 229 ms of processing (medians of 5; 2, 8 and 32 KiB ahead measured about the same).
constexpr uint64_t kReadAhead = 2048;

// Returns the new `ahead` (see PcapFile::ahead_).
inline uint64_t read_ahead(const uint8_t* base, uint64_t size, uint64_t pos, uint64_t ahead) noexcept {
    const uint64_t want = std::min(pos + kReadAhead, size);
    if (ahead < pos) ahead = pos & ~uint64_t{63};
    for (; ahead < want; ahead += 64) __builtin_prefetch(base + ahead);
    return ahead;
}

}  // namespace

uint32_t PcapFile::next(Frame* out, uint32_t n) noexcept {
    if (status_ != Status::Ok) return 0;
    if (format_ == Format::Pcap) return swapped_ ? next_pcap<true>(out, n) : next_pcap<false>(out, n);
    return swapped_ ? next_pcapng<true>(out, n) : next_pcapng<false>(out, n);
}

// The cursor is kept in locals while frames are written to `out`, which the
// compiler cannot tell apart from the members (it would reload them per frame),
// and the byte order is a constant of each instance.
template <bool Swapped>
uint32_t PcapFile::next_pcapng(Frame* out, uint32_t n) noexcept {
    const uint8_t* const base = base_;
    const uint64_t size = size_;
    const uint32_t snaplen = snaplen_;
    uint64_t pos = pos_, ahead = ahead_;
    const Interface* ifc = ifaces_.data();
    size_t nif = ifaces_.size();
    Status st = Status::Ok;
    uint32_t k = 0;
    while (k < n) {
        const uint64_t left = size - pos;
        if (left < 12) {
            st = left == 0 ? Status::End : Status::Truncated;
            break;
        }
        const uint8_t* b = base + pos;
        const uint32_t type = load32_as<Swapped>(b), len = load32_as<Swapped>(b + 4);
        if (len < 12 || len % 4 != 0 || len > kMaxBlock) {
            st = Status::BadRecord;
            break;
        }
        if (len > left) {
            st = Status::Truncated;
            break;
        }
        if (load32_as<Swapped>(b + len - 4) != len) {  // the trailer repeats the length (libpcap checks it)
            st = Status::BadRecord;
            break;
        }
        bool bad = false;
        switch (type) {
            case kEpb:
            case kPb: {  // the same layout, but for the width of the interface number
                if (len < kEpbMin) {
                    bad = true;
                    break;
                }
                const uint32_t iface = type == kEpb ? load32_as<Swapped>(b + 8) : load16_as<Swapped>(b + 8);
                const uint32_t caplen = load32_as<Swapped>(b + 20);
                // Beyond the snap length is an error in pcapng (libpcap: "bigger than snaplen").
                if (iface >= nif || caplen > len - kEpbMin || caplen > snaplen) {
                    bad = true;
                    break;
                }
                const uint64_t t = (uint64_t{load32_as<Swapped>(b + 12)} << 32) | load32_as<Swapped>(b + 16);
                out[k++] = {b + 28, caplen, load32_as<Swapped>(b + 24), ts_us(ifc[iface], t)};
                break;
            }
            case kSpb: {  // no time stamp, no captured length: the original one cut to the snap length
                const uint32_t wirelen = len >= kSpbMin ? load32_as<Swapped>(b + 8) : 0;
                const uint32_t caplen = std::min(wirelen, snaplen);
                if (len < kSpbMin || nif == 0 || caplen > len - kSpbMin) {
                    bad = true;
                    break;
                }
                out[k++] = {b + 12, caplen, wirelen, ts_us(ifc[0], 0)};  // the first interface's offset
                break;
            }
            case kIdb: {
                uint32_t linktype, idb_snaplen;
                // Every interface must share the first one's link type and snap length,
                // as libpcap requires.
                Interface desc;
                bad = !describe(pos, len, linktype, idb_snaplen, desc) || linktype != linktype_ ||
                      idb_snaplen != snaplen;
                if (!bad) ifaces_.push_back(desc);
                ifc = ifaces_.data();
                nif = ifaces_.size();
                break;
            }
            case kShb: {  // a new section: same byte order and major version, interfaces described anew
                uint32_t bom;
                std::memcpy(&bom, b + 8, 4);
                bad = len < kShbMin || bom != (Swapped ? __builtin_bswap32(kByteOrder) : kByteOrder) ||
                      load16_as<Swapped>(b + 12) != 1;
                ifaces_.clear();
                nif = 0;
                break;
            }
            default: break;  // statistics, name resolution, custom blocks: not ours
        }
        if (bad) {
            st = Status::BadRecord;
            break;
        }
        pos += len;
        ahead = read_ahead(base, size, pos, ahead);
    }
    pos_ = pos;
    ahead_ = ahead;
    status_ = st;
    return k;
}

template <bool Swapped>
uint32_t PcapFile::next_pcap(Frame* out, uint32_t n) noexcept {
    const uint8_t* const base = base_;
    const uint64_t size = size_;
    const uint32_t snaplen = snaplen_;
    const bool nano = nano_;
    uint64_t pos = pos_, ahead = ahead_;
    Status st = Status::Ok;
    uint32_t k = 0;
    while (k < n) {
        const uint64_t left = size - pos;
        if (left < kRecordHeader) {
            st = left == 0 ? Status::End : Status::Truncated;
            break;
        }
        const uint8_t* h = base + pos;
        const uint32_t sec = load32_as<Swapped>(h), frac = load32_as<Swapped>(h + 4);
        const uint32_t caplen = load32_as<Swapped>(h + 8), wirelen = load32_as<Swapped>(h + 12);
        if (caplen > kMaxCaplen) {
            st = Status::BadRecord;
            break;
        }
        if (left - kRecordHeader < caplen) {
            st = Status::Truncated;
            break;
        }
        out[k++] = {h + kRecordHeader, std::min(caplen, snaplen), wirelen,
                    uint64_t{sec} * 1'000'000u + (nano ? frac / 1000u : frac)};
        pos += kRecordHeader + caplen;
        ahead = read_ahead(base, size, pos, ahead);
    }
    pos_ = pos;
    ahead_ = ahead;
    status_ = st;
    return k;
}

const char* to_string(PcapFile::Status s) noexcept {
    switch (s) {
        case PcapFile::Status::Ok: return "ok";
        case PcapFile::Status::End: return "end of file";
        case PcapFile::Status::Truncated: return "the file ends inside a record";
        case PcapFile::Status::BadRecord: return "a record or block cannot be framed";
    }
    return "?";
}

}  // namespace ws::capture
