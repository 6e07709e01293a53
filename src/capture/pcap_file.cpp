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
    if (magic == kMagicUs || magic == kMagicNs) {
        f->swapped_ = false;
    } else if (__builtin_bswap32(magic) == kMagicUs || __builtin_bswap32(magic) == kMagicNs) {
        f->swapped_ = true;
        magic = __builtin_bswap32(magic);
    } else {
        err = OpenError::NotPcap;
        why = path + " is not a classic pcap file";
        ::close(fd);
        return nullptr;
    }
    f->nano_ = magic == kMagicNs;
    if (load16(hdr + 4, f->swapped_) != 2) {
        err = OpenError::BadHeader;
        why = path + ": pcap format version " + std::to_string(load16(hdr + 4, f->swapped_)) + " is not 2";
        ::close(fd);
        return nullptr;
    }
    f->snaplen_ = load32(hdr + 16, f->swapped_);
    if (f->snaplen_ == 0 || f->snaplen_ > kMaxCaplen) f->snaplen_ = kMaxCaplen;  // as libpcap
    f->linktype_ = load32(hdr + 20, f->swapped_) & 0x03FFFFFF;  // upper bits: FCS length
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
    f->pos_ = kFileHeader;
    err = OpenError::None;
    return f;
}

PcapFile::~PcapFile() {
    if (base_ != nullptr) munmap(const_cast<uint8_t*>(base_), size_);
}

uint32_t PcapFile::next(Frame* out, uint32_t n) noexcept {
    uint32_t k = 0;
    while (k < n && status_ == Status::Ok) {
        const uint64_t left = size_ - pos_;
        if (left < kRecordHeader) {
            status_ = left == 0 ? Status::End : Status::Truncated;
            break;
        }
        const uint8_t* h = base_ + pos_;
        const uint32_t sec = load32(h, swapped_), frac = load32(h + 4, swapped_);
        const uint32_t caplen = load32(h + 8, swapped_), wirelen = load32(h + 12, swapped_);
        if (caplen > kMaxCaplen) {
            status_ = Status::BadRecord;
            break;
        }
        if (left - kRecordHeader < caplen) {
            status_ = Status::Truncated;
            break;
        }
        out[k++] = {h + kRecordHeader, std::min(caplen, snaplen_), wirelen,
                    uint64_t{sec} * 1'000'000u + (nano_ ? frac / 1000u : frac)};
        pos_ += kRecordHeader + caplen;
    }
    return k;
}

const char* to_string(PcapFile::Status s) noexcept {
    switch (s) {
        case PcapFile::Status::Ok: return "ok";
        case PcapFile::Status::End: return "end of file";
        case PcapFile::Status::Truncated: return "the file ends inside a record";
        case PcapFile::Status::BadRecord: return "a record is longer than 262144 bytes";
    }
    return "?";
}

}  // namespace ws::capture
