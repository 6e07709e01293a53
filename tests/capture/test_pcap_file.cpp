// The in-place pcap reader against libpcap, and on damaged files.
#include <gtest/gtest.h>
#include <pcap/pcap.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include "capture/pcap_file.hpp"

namespace {

using ws::capture::Frame;
using ws::capture::PcapFile;
namespace fs = std::filesystem;

struct Rec {
    uint32_t sec, frac;
    std::vector<uint8_t> bytes;
    uint32_t wirelen = 0;  // 0: the captured length
};

void put32(std::vector<uint8_t>& b, uint32_t v, bool big) {
    for (int i = 0; i < 4; ++i) b.push_back(static_cast<uint8_t>(big ? v >> (24 - 8 * i) : v >> (8 * i)));
}
void put16(std::vector<uint8_t>& b, uint16_t v, bool big) {
    for (int i = 0; i < 2; ++i) b.push_back(static_cast<uint8_t>(big ? v >> (8 - 8 * i) : v >> (8 * i)));
}

std::vector<uint8_t> pcap_bytes(const std::vector<Rec>& recs, bool big = false, bool nano = false,
                                uint32_t snaplen = 65535, uint32_t magic = 0) {
    std::vector<uint8_t> b;
    put32(b, magic ? magic : nano ? 0xa1b23c4d : 0xa1b2c3d4, big);
    put16(b, 2, big);
    put16(b, 4, big);
    put32(b, 0, big);
    put32(b, 0, big);
    put32(b, snaplen, big);
    put32(b, 1, big);  // Ethernet
    for (const auto& r : recs) {
        put32(b, r.sec, big);
        put32(b, r.frac, big);
        put32(b, static_cast<uint32_t>(r.bytes.size()), big);
        put32(b, r.wirelen ? r.wirelen : static_cast<uint32_t>(r.bytes.size()), big);
        b.insert(b.end(), r.bytes.begin(), r.bytes.end());
    }
    return b;
}

class TempFile {
public:
    explicit TempFile(const std::vector<uint8_t>& bytes) {
        char tmpl[] = "/tmp/ws-pcapfile-XXXXXX";
        const int fd = mkstemp(tmpl);
        path_ = tmpl;
        EXPECT_EQ(write(fd, bytes.data(), bytes.size()), static_cast<ssize_t>(bytes.size()));
        close(fd);
    }
    ~TempFile() { std::remove(path_.c_str()); }
    const std::string& path() const { return path_; }

private:
    std::string path_;
};

std::unique_ptr<PcapFile> open_ok(const std::string& path) {
    PcapFile::OpenError err;
    std::string why;
    auto f = PcapFile::open(path, err, why);
    EXPECT_NE(f, nullptr) << why;
    EXPECT_EQ(err, PcapFile::OpenError::None);
    return f;
}

std::vector<Frame> read_all(PcapFile& f, uint32_t burst = 7) {
    std::vector<Frame> out;
    Frame fr[64];
    while (uint32_t n = f.next(fr, burst)) out.insert(out.end(), fr, fr + n);
    return out;
}

// libpcap's view of the same file: (ts_us, caplen, wirelen, bytes) per frame.
struct Ref {
    uint64_t ts_us;
    uint32_t caplen, wirelen;
    std::vector<uint8_t> bytes;
};
std::vector<Ref> libpcap_frames(const std::string& path) {
    char err[PCAP_ERRBUF_SIZE];
    pcap_t* p = pcap_open_offline(path.c_str(), err);
    EXPECT_NE(p, nullptr) << err;
    std::vector<Ref> out;
    if (!p) return out;
    pcap_pkthdr* h;
    const u_char* d;
    while (pcap_next_ex(p, &h, &d) == 1)
        out.push_back({uint64_t(h->ts.tv_sec) * 1000000u + uint64_t(h->ts.tv_usec), h->caplen, h->len,
                       std::vector<uint8_t>(d, d + h->caplen)});
    pcap_close(p);
    return out;
}

void expect_same(const std::vector<Frame>& got, const std::vector<Ref>& want) {
    ASSERT_EQ(got.size(), want.size());
    for (size_t i = 0; i < got.size(); ++i) {
        EXPECT_EQ(got[i].ts_us, want[i].ts_us) << "frame " << i;
        EXPECT_EQ(got[i].caplen, want[i].caplen) << "frame " << i;
        EXPECT_EQ(got[i].wirelen, want[i].wirelen) << "frame " << i;
        EXPECT_EQ(std::vector<uint8_t>(got[i].data, got[i].data + got[i].caplen), want[i].bytes) << "frame " << i;
    }
}

std::vector<Rec> sample() {
    return {{1700000000, 999999, std::vector<uint8_t>(60, 0xab)},
            {1700000001, 5, std::vector<uint8_t>(1514, 0x11), 1514},
            {1700000001, 6, std::vector<uint8_t>(96, 0x22), 1500}};
}

TEST(PcapFile, FramesMatchLibpcapOnTheBundledCapture) {
    const std::string path = (fs::path(WS_SOURCE_ROOT) / "tests/pcaps/scenarios.pcap").string();
    auto f = open_ok(path);
    ASSERT_NE(f, nullptr);
    const auto got = read_all(*f, 32);
    EXPECT_EQ(f->status(), PcapFile::Status::End);
    EXPECT_EQ(f->offset(), f->size());
    expect_same(got, libpcap_frames(path));
    EXPECT_FALSE(got.empty());
}

TEST(PcapFile, FramesMatchLibpcapOnEveryClassicZeekTrace) {
    const fs::path dir = fs::path(WS_SOURCE_ROOT) / "../shared/conformance/zeek/traces";
    if (!fs::is_directory(dir)) GTEST_SKIP() << "no conformance corpus at " << dir;
    unsigned classic = 0, other = 0;
    for (const auto& e : fs::directory_iterator(dir)) {
        PcapFile::OpenError err;
        std::string why;
        auto f = PcapFile::open(e.path().string(), err, why);
        if (err == PcapFile::OpenError::NotPcap) {  // pcapng: left to libpcap
            ++other;
            continue;
        }
        ASSERT_NE(f, nullptr) << why;
        SCOPED_TRACE(e.path().filename().string());
        const auto got = read_all(*f, 32);
        EXPECT_EQ(f->status(), PcapFile::Status::End);
        expect_same(got, libpcap_frames(e.path().string()));
        ++classic;
    }
    EXPECT_GT(classic, 0u);
    std::printf("%u classic pcap traces read alike, %u others left to libpcap\n", classic, other);
}

TEST(PcapFile, BigEndianAndNanosecondFilesReadAsLibpcapReadsThem) {
    auto recs = sample();
    for (bool big : {false, true}) {
        for (bool nano : {false, true}) {
            auto r = recs;
            if (nano)
                for (auto& x : r) x.frac = x.frac * 1000 + 999;  // truncated back to microseconds
            TempFile t(pcap_bytes(r, big, nano));
            auto f = open_ok(t.path());
            ASSERT_NE(f, nullptr);
            EXPECT_EQ(f->nanosecond(), nano);
            EXPECT_EQ(f->linktype(), 1u);
            const auto got = read_all(*f);
            EXPECT_EQ(f->status(), PcapFile::Status::End);
            expect_same(got, libpcap_frames(t.path()));
            ASSERT_EQ(got.size(), 3u);
            EXPECT_EQ(got[0].ts_us, 1700000000999999u);
            EXPECT_EQ(got[2].wirelen, 1500u);
        }
    }
}

TEST(PcapFile, FrameLongerThanTheSnapLengthIsCutToIt) {
    TempFile t(pcap_bytes(sample(), false, false, 100));
    auto f = open_ok(t.path());
    ASSERT_NE(f, nullptr);
    const auto got = read_all(*f);
    EXPECT_EQ(f->status(), PcapFile::Status::End);
    ASSERT_EQ(got.size(), 3u);
    EXPECT_EQ(got[1].caplen, 100u);  // 1514 in the file, the rest skipped
    EXPECT_EQ(got[2].caplen, 96u);
    EXPECT_EQ(got[2].data[0], 0x22);
    expect_same(got, libpcap_frames(t.path()));
}

TEST(PcapFile, CaptureCutInsideARecordEndsTruncatedAfterTheWholeFrames) {
    const auto whole = pcap_bytes(sample());
    const uint64_t third = 24 + (16 + 60) + (16 + 1514);
    for (uint64_t cut : {third + 5, third + 16 + 50}) {  // inside the header, inside the data
        TempFile t(std::vector<uint8_t>(whole.begin(), whole.begin() + static_cast<long>(cut)));
        auto f = open_ok(t.path());
        ASSERT_NE(f, nullptr);
        const auto got = read_all(*f);
        EXPECT_EQ(got.size(), 2u);
        EXPECT_EQ(f->status(), PcapFile::Status::Truncated);
        EXPECT_EQ(f->offset(), third);
        Frame fr[4];
        EXPECT_EQ(f->next(fr, 4), 0u);  // stays stopped
    }
}

TEST(PcapFile, RecordClaimingMoreThanTheMaximumStopsTheReading) {
    auto b = pcap_bytes(sample());
    const size_t caplen_at = 24 + 16 + 60 + 8;  // second record's caplen
    b[caplen_at] = 0x00, b[caplen_at + 1] = 0x00, b[caplen_at + 2] = 0x10, b[caplen_at + 3] = 0x00;  // 1 MiB
    TempFile t(b);
    auto f = open_ok(t.path());
    ASSERT_NE(f, nullptr);
    const auto got = read_all(*f);
    EXPECT_EQ(got.size(), 1u);
    EXPECT_EQ(f->status(), PcapFile::Status::BadRecord);
    EXPECT_EQ(f->offset(), 24u + 16 + 60);
}

TEST(PcapFile, HeaderOnlyCaptureEndsAtOnce) {
    TempFile t(pcap_bytes({}));
    auto f = open_ok(t.path());
    ASSERT_NE(f, nullptr);
    Frame fr[4];
    EXPECT_EQ(f->next(fr, 4), 0u);
    EXPECT_EQ(f->status(), PcapFile::Status::End);
}

TEST(PcapFile, OtherFilesAreRefusedWithAReason) {
    PcapFile::OpenError err;
    std::string why;
    EXPECT_EQ(PcapFile::open("/nonexistent/x.pcap", err, why), nullptr);
    EXPECT_EQ(err, PcapFile::OpenError::System);
    EXPECT_NE(why.find("No such file"), std::string::npos) << why;

    TempFile ng(pcap_bytes({}, false, false, 65535, 0x0a0d0d0a));  // a pcapng section header
    EXPECT_EQ(PcapFile::open(ng.path(), err, why), nullptr);
    EXPECT_EQ(err, PcapFile::OpenError::NotPcap);

    TempFile shortf(std::vector<uint8_t>{0xd4, 0xc3, 0xb2, 0xa1, 2, 0});
    EXPECT_EQ(PcapFile::open(shortf.path(), err, why), nullptr);
    EXPECT_EQ(err, PcapFile::OpenError::BadHeader);

    auto v1 = pcap_bytes({});
    v1[4] = 1;
    TempFile old(v1);
    EXPECT_EQ(PcapFile::open(old.path(), err, why), nullptr);
    EXPECT_EQ(err, PcapFile::OpenError::BadHeader);
    EXPECT_NE(why.find("version 1"), std::string::npos) << why;

    EXPECT_EQ(PcapFile::open("/tmp", err, why), nullptr);
    EXPECT_EQ(err, PcapFile::OpenError::System);
}

}  // namespace
