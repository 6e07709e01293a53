// The capture reader on hostile files: pcap and pcapng, any byte order, truncated or
// corrupt records and blocks. Every frame it hands out must lie inside the mapped
// file and within libpcap's length bound, a second cursor must read the same frames,
// and each frame then goes through the parser on the file's link type.
//
// Input: the file's bytes, written to a memfd and opened by path as a replay opens it.
#include <sys/mman.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string>

#include "capture/pcap_file.hpp"
#include "check.hpp"
#include "parse/packet.hpp"

namespace {

using namespace ws;

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* d, size_t n) {
    static const int fd = memfd_create("fuzz_capture", 0);
    FUZZ_CHECK(fd >= 0);
    FUZZ_CHECK(ftruncate(fd, 0) == 0 && pwrite(fd, d, n, 0) == static_cast<ssize_t>(n));
    capture::PcapFile::OpenError err;
    std::string why;
    auto file = capture::PcapFile::open("/proc/self/fd/" + std::to_string(fd), err, why);
    if (!file) {
        FUZZ_CHECK(!why.empty() && why.find('\n') == std::string::npos);
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
            FUZZ_CHECK(fr[i].caplen <= capture::PcapFile::kMaxCaplen);
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
    return 0;
}
