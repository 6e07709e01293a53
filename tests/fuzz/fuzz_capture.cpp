// The capture reader on hostile files: pcap and pcapng, any byte order, truncated or
// corrupt records and blocks. Every frame it hands out must lie inside the mapped
// file and within libpcap's length bounds, a second cursor must read the same frames,
// and each frame then goes through the parser on the file's link type.
//
// libpcap is the oracle: a file both open, of a link type wirestate reads, must give
// the same frames (time, lengths, bytes), and end the same way (end of file against
// an error), from both. A file we refuse as not ours (NotPcap) libpcap reads for us.
//
// Input: the file's bytes, written to a memfd and opened by path as a replay opens it.
#include <pcap/pcap.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "capture/pcap_file.hpp"
#include "check.hpp"
#include "parse/packet.hpp"

namespace {

using namespace ws;

// Of the link types wirestate reads, libpcap rewrites a frame in place only in a
// Linux cooked capture (v1, v2) written in the other byte order: the SocketCAN
// header after it. The reader does not: only those frames' lengths and times are compared.
bool libpcap_rewrites(uint32_t linktype, pcap_t* p) {
    return pcap_is_swapped(p) && (linktype == 113 || linktype == 276);
}

uint32_t load32(const uint8_t* at, pcap_t* p) {
    uint32_t v;
    std::memcpy(&v, at, 4);
    return pcap_is_swapped(p) ? __builtin_bswap32(v) : v;
}

// Two times libpcap 1.10 gets wrong, which are not compared:
// - a classic record's 32-bit seconds and fraction it reads as signed (a time after
//   January 2038 comes out before 1970); the format defines them unsigned;
// - the fraction of a pcapng time in binary units of 2^-45 s or finer it multiplies
//   by 10^6 in 64 bits, which overflows; the reader does it in 128.
bool libpcap_time_wrong(const capture::PcapFile& ours, pcap_t* p, const capture::Frame& f) {
    if (ours.format() == capture::PcapFile::Format::Pcap)  // the record header is just before the frame
        return (load32(f.data - 16, p) | load32(f.data - 12, p)) >> 31;
    // An Enhanced or obsolete Packet Block starts 28 bytes before its frame (a Simple
    // one, without time, 12: should its bytes read as either, a time goes unchecked).
    if (f.data - ours.bytes() < 28) return false;
    const uint8_t* block = f.data - 28;
    const uint32_t type = load32(block, p);
    if (type != 6 && type != 2) return false;
    uint32_t iface = load32(block + 8, p);
    if (type == 2) iface = pcap_is_swapped(p) ? iface >> 16 : iface & 0xffff;  // 16 bits, first in the file
    return ours.time_units(iface) > UINT64_MAX / 1000000u;
}

// Frames from both readers until either stops; both must stop together.
void compare_with_libpcap(const std::string& path, capture::PcapFile& ours) {
    char err[PCAP_ERRBUF_SIZE];
    pcap_t* p = pcap_open_offline(path.c_str(), err);
    if (!p) return;  // the binary opens with libpcap first: such a file is refused there
    FUZZ_CHECK(static_cast<uint32_t>(pcap_snapshot(p)) == ours.snaplen());
    const bool bytes = !libpcap_rewrites(ours.linktype(), p);
    capture::Frame f;
    pcap_pkthdr* h;
    const u_char* d;
    int rc;
    while ((rc = pcap_next_ex(p, &h, &d)) == 1) {
        FUZZ_CHECK(ours.next(&f, 1) == 1);
        FUZZ_CHECK(f.caplen == h->caplen && f.wirelen == h->len);
        if (!libpcap_time_wrong(ours, p, f))
            FUZZ_CHECK(f.ts_us == static_cast<uint64_t>(h->ts.tv_sec) * 1000000u + static_cast<uint64_t>(h->ts.tv_usec));
        FUZZ_CHECK(!bytes || std::memcmp(f.data, d, f.caplen) == 0);
    }
    FUZZ_CHECK(ours.next(&f, 1) == 0);
    // End of file for libpcap is End for us; its errors are a cut or a bad record.
    FUZZ_CHECK((rc == PCAP_ERROR_BREAK) == (ours.status() == capture::PcapFile::Status::End));
    pcap_close(p);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* d, size_t n) {
    static const int fd = memfd_create("fuzz_capture", 0);
    FUZZ_CHECK(fd >= 0);
    FUZZ_CHECK(ftruncate(fd, 0) == 0 && pwrite(fd, d, n, 0) == static_cast<ssize_t>(n));
    capture::PcapFile::OpenError err;
    std::string why;
    const std::string path = "/proc/self/fd/" + std::to_string(fd);
    auto file = capture::PcapFile::open(path, err, why);
    if (!file) {
        FUZZ_CHECK(!why.empty() && why.find('\n') == std::string::npos);
        if (err != capture::PcapFile::OpenError::NotPcap) {
            char perr[PCAP_ERRBUF_SIZE];  // what we refuse outright, libpcap must refuse too
            pcap_t* p = pcap_open_offline(path.c_str(), perr);
            FUZZ_CHECK(p == nullptr);
        }
        return 0;
    }
    parse::ParseConfig pc;
    pc.verify_checksums = n & 1;
    parse::PacketView v;
    const bool parseable = parse::link_supported(file->linktype());
    capture::Frame fr[7];
    const uint32_t burst = static_cast<uint32_t>(1 + n % 7);
    uint64_t frames = 0;
    for (;;) {
        const uint32_t got = file->next(fr, burst);
        for (uint32_t i = 0; i < got; ++i) {
            FUZZ_CHECK(fr[i].data >= file->bytes() && fr[i].caplen <= file->size() &&
                       fr[i].data - file->bytes() <= static_cast<ptrdiff_t>(file->size() - fr[i].caplen));
            FUZZ_CHECK(fr[i].caplen <= (file->format() == capture::PcapFile::Format::Pcap
                                            ? capture::PcapFile::kMaxCaplen
                                            : capture::PcapFile::kMaxBlock));
            if (parseable) parse::parse(fr[i].data, fr[i].caplen, static_cast<parse::Link>(file->linktype()), pc, v);
        }
        frames += got;
        if (got < burst) break;
    }
    FUZZ_CHECK(file->status() != capture::PcapFile::Status::Ok);
    FUZZ_CHECK(file->offset() <= file->size());
    auto again = file->cursor();
    uint64_t frames_again = 0;
    while (const uint32_t got = again->next(fr, 7)) frames_again += got;
    FUZZ_CHECK(frames_again == frames && again->status() == file->status());
    if (parseable) compare_with_libpcap(path, *file->cursor());
    return 0;
}
