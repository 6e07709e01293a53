// The in-place pcap reader against libpcap, and on damaged files.
#include <gtest/gtest.h>
#include <pcap/pcap.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <random>
#include <string>
#include <tuple>
#include <vector>

#include "capture/pcap_file.hpp"
#include "parse/packet.hpp"

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

TEST(PcapFile, CursorsOfOneMappingReadIndependently) {
    const std::string path = (fs::path(WS_SOURCE_ROOT) / "tests/pcaps/scenarios.pcap").string();
    auto f = open_ok(path);
    ASSERT_NE(f, nullptr);
    f->populate(0, f->size());
    Frame fr[8];
    ASSERT_EQ(f->next(fr, 8), 8u);  // the original is half-way through...
    auto c = f->cursor();             // ...a cursor starts at the first record
    const auto all = read_all(*c, 5);
    EXPECT_EQ(c->status(), PcapFile::Status::End);
    expect_same(all, libpcap_frames(path));
    EXPECT_EQ(f->status(), PcapFile::Status::Ok);
    f.reset();  // the mapping lives as long as its last reader
    auto again = c->cursor();
    expect_same(read_all(*again, 64), libpcap_frames(path));
}

// Kilobytes of the mapping that holds `addr` mapped in this process (smaps "Rss").
long mapped_kb(const void* addr) {
    std::FILE* f = std::fopen("/proc/self/smaps", "r");
    if (f == nullptr) return -1;
    char line[512];
    bool in = false;
    long kb = -1;
    const auto a = reinterpret_cast<uintptr_t>(addr);
    while (std::fgets(line, sizeof line, f)) {
        unsigned long lo, hi;
        if (std::sscanf(line, "%lx-%lx ", &lo, &hi) == 2 && std::strchr(line, '-') < std::strchr(line, ' ')) {
            in = a >= lo && a < hi;
        } else if (in && std::sscanf(line, "Rss: %ld kB", &kb) == 1) {
            break;
        }
    }
    std::fclose(f);
    return kb;
}

TEST(PcapFile, ReleasedPagesAreUnmappedAndReadTheSameAgain) {
    const std::string path = (fs::path(WS_SOURCE_ROOT) / "tests/pcaps/scenarios.pcap").string();
    auto f = open_ok(path);
    ASSERT_NE(f, nullptr);
    f->populate(0, f->size());
    EXPECT_GT(mapped_kb(f->bytes()), 0);
    f->release(0, f->size());
    EXPECT_EQ(mapped_kb(f->bytes()), 0);
    expect_same(read_all(*f, 32), libpcap_frames(path));  // mapped again as it is read
    EXPECT_GT(mapped_kb(f->bytes()), 0);
}

TEST(PcapFile, FramesMatchLibpcapOnEveryZeekTrace) {
    const fs::path dir = fs::path(WS_SOURCE_ROOT) / "../shared/conformance/zeek/traces";
    if (!fs::is_directory(dir)) GTEST_SKIP() << "no conformance corpus at " << dir;
    unsigned classic = 0, ng = 0;
    for (const auto& e : fs::directory_iterator(dir)) {
        PcapFile::OpenError err;
        std::string why;
        auto f = PcapFile::open(e.path().string(), err, why);
        ASSERT_NE(f, nullptr) << why;
        SCOPED_TRACE(e.path().filename().string());
        const auto got = read_all(*f, 32);
        EXPECT_EQ(f->status(), PcapFile::Status::End);
        expect_same(got, libpcap_frames(e.path().string()));
        ++(f->format() == PcapFile::Format::Pcap ? classic : ng);
    }
    EXPECT_GT(classic, 0u);
    EXPECT_GT(ng, 0u);
    std::printf("%u classic pcap and %u pcapng traces read as libpcap reads them\n", classic, ng);
}

// ---- pcapng -------------------------------------------------------------------

struct Ng {
    bool big = false;
    std::vector<uint8_t> b;

    void block(uint32_t type, const std::vector<uint8_t>& body) {
        const auto len = static_cast<uint32_t>(12 + ((body.size() + 3) & ~size_t{3}));
        put32(b, type, big);
        put32(b, len, big);
        b.insert(b.end(), body.begin(), body.end());
        b.resize(b.size() + ((4 - body.size() % 4) % 4), 0);
        put32(b, len, big);
    }
    void shb(uint16_t major = 1, uint16_t minor = 0, size_t options = 0, uint32_t byte_order = 0x1a2b3c4d) {
        std::vector<uint8_t> v;
        put32(v, byte_order, big);
        put16(v, major, big);
        put16(v, minor, big);
        for (int i = 0; i < 8; ++i) v.push_back(0xff);  // section length unknown
        v.resize(v.size() + options, 0);
        block(0x0a0d0d0a, v);
    }
    // tsresol: -1 = no option (microseconds).
    void idb(uint16_t linktype, uint32_t snaplen, int tsresol = -1, int64_t tsoffset = 0) {
        std::vector<uint8_t> v;
        put16(v, linktype, big);
        put16(v, 0, big);
        put32(v, snaplen, big);
        if (tsresol >= 0) {
            put16(v, 9, big);
            put16(v, 1, big);
            v.push_back(static_cast<uint8_t>(tsresol));
            v.resize(v.size() + 3, 0);
        }
        if (tsoffset) {
            put16(v, 14, big);
            put16(v, 8, big);
            const auto o = static_cast<uint64_t>(tsoffset);
            if (big) put32(v, static_cast<uint32_t>(o >> 32), big), put32(v, static_cast<uint32_t>(o), big);
            else put32(v, static_cast<uint32_t>(o), big), put32(v, static_cast<uint32_t>(o >> 32), big);
        }
        put16(v, 0, big);  // opt_endofopt
        put16(v, 0, big);
        block(1, v);
    }
    void epb(uint32_t iface, uint64_t t, const std::vector<uint8_t>& data, uint32_t wirelen = 0) {
        std::vector<uint8_t> v;
        put32(v, iface, big);
        put32(v, static_cast<uint32_t>(t >> 32), big);
        put32(v, static_cast<uint32_t>(t), big);
        put32(v, static_cast<uint32_t>(data.size()), big);
        put32(v, wirelen ? wirelen : static_cast<uint32_t>(data.size()), big);
        v.insert(v.end(), data.begin(), data.end());
        block(6, v);
    }
    // The obsolete Packet Block: a 16-bit interface number and a drop count.
    void pb(uint16_t iface, uint64_t t, const std::vector<uint8_t>& data) {
        std::vector<uint8_t> v;
        put16(v, iface, big);
        put16(v, 7, big);  // drops
        put32(v, static_cast<uint32_t>(t >> 32), big);
        put32(v, static_cast<uint32_t>(t), big);
        put32(v, static_cast<uint32_t>(data.size()), big);
        put32(v, static_cast<uint32_t>(data.size()), big);
        v.insert(v.end(), data.begin(), data.end());
        block(2, v);
    }
    void spb(const std::vector<uint8_t>& data) {
        std::vector<uint8_t> v;
        put32(v, static_cast<uint32_t>(data.size()), big);
        v.insert(v.end(), data.begin(), data.end());
        block(3, v);
    }
};

// A replay sizes its table from the capture's bytes (max_opening_frames): no frame
// that opens a connection takes fewer than kMinOpeningFrameBytes of the file. A raw
// IPv4 SYN (LINKTYPE_RAW, 40 bytes) in pcap records and in pcapng Simple Packet
// Blocks takes exactly that, so the bound is reached; a byte less of it is no segment.
TEST(PcapFile, TheSmallestFramesThatOpenConnectionsReachTheBoundExactly) {
    constexpr uint32_t kFrames = 1000;
    auto syn = [](uint32_t i) {
        std::vector<uint8_t> f = {0x45, 0, 0, 40, 0, 0, 0, 0, 64, 6, 0, 0,  // IPv4, 40 bytes, TCP
                                  10, static_cast<uint8_t>(i >> 16), static_cast<uint8_t>(i >> 8), static_cast<uint8_t>(i),
                                  10, 255, 0, 1,                           // a source per frame, one server
                                  0x9c, 0x40, 0, 80, 0, 0, 0, 1, 0, 0, 0, 0,  // ports 40000 -> 80, seq 1
                                  0x50, 0x02, 0xff, 0xff, 0, 0, 0, 0};       // 20-byte header, SYN
        return f;
    };
    std::vector<Rec> recs;
    Ng ng;
    ng.shb();
    ng.idb(101, 65535);
    for (uint32_t i = 0; i < kFrames; ++i) {
        recs.push_back({1700000000, i, syn(i)});
        ng.spb(syn(i));
    }
    auto pcap = pcap_bytes(recs);
    pcap[20] = 101;  // LINKTYPE_RAW
    for (const auto* bytes : {&pcap, &ng.b}) {
        TempFile t(*bytes);
        auto f = open_ok(t.path());
        ASSERT_NE(f, nullptr);
        EXPECT_EQ(ws::capture::max_opening_frames(f->size()), kFrames);
        uint32_t syns = 0;
        for (const Frame& fr : read_all(*f)) {
            ws::parse::PacketView v;
            syns += ws::parse::parse(fr.data, fr.caplen, ws::parse::Link::Raw, {}, v) == ws::parse::Kind::Tcp;
            EXPECT_NE(ws::parse::parse(fr.data, fr.caplen - 1, ws::parse::Link::Raw, {}, v), ws::parse::Kind::Tcp);
        }
        EXPECT_EQ(syns, kFrames);
    }
}

TEST(PcapFile, PcapngPacketsOfEveryInterfaceAndResolutionReadAsLibpcapReadsThem) {
    for (bool big : {false, true}) {
        Ng ng;
        ng.big = big;
        ng.shb();
        ng.idb(1, 65535);                   // microseconds
        ng.block(5, std::vector<uint8_t>(20, 0));  // an Interface Statistics Block: skipped
        ng.idb(1, 65535, 9, 3600);          // nanoseconds, one hour later
        ng.idb(1, 65535, 0x80 | 20);        // 2^-20 s
        ng.idb(1, 65535, 6, -60);           // microseconds said outright, a minute earlier
        ng.epb(0, 1700000000123456ull, std::vector<uint8_t>(61, 0x01));
        ng.epb(1, 1700000000123456789ull, std::vector<uint8_t>(60, 0x02), 1514);
        ng.epb(2, (uint64_t{1700000000} << 20) + 524288, std::vector<uint8_t>(64, 0x03));  // .5 s
        ng.epb(3, 1700000000123456ull, std::vector<uint8_t>(60, 0x06));
        ng.spb(std::vector<uint8_t>(62, 0x04));
        ng.pb(1, 1700000000223456789ull, std::vector<uint8_t>(63, 0x07));
        ng.shb();  // a second section describes its interfaces anew
        ng.idb(1, 65535, 3);  // milliseconds
        ng.epb(0, 1700000000123ull, std::vector<uint8_t>(60, 0x05));
        TempFile t(ng.b);
        auto f = open_ok(t.path());
        ASSERT_NE(f, nullptr);
        EXPECT_EQ(f->format(), PcapFile::Format::Pcapng);
        EXPECT_EQ(f->linktype(), 1u);
        const auto got = read_all(*f, 2);
        EXPECT_EQ(f->status(), PcapFile::Status::End);
        expect_same(got, libpcap_frames(t.path()));
        ASSERT_EQ(got.size(), 7u);
        EXPECT_EQ(got[0].ts_us, 1700000000123456u);
        EXPECT_EQ(got[1].ts_us, 1700003600123456u);
        EXPECT_EQ(got[1].wirelen, 1514u);
        EXPECT_EQ(got[2].ts_us, 1700000000500000u);
        EXPECT_EQ(got[3].ts_us, 1699999940123456u);
        EXPECT_EQ(got[4].ts_us, 0u);
        EXPECT_EQ(got[5].ts_us, 1700003600223456u);
        EXPECT_EQ(got[5].caplen, 63u);
        EXPECT_EQ(got[6].ts_us, 1700000000123000u);
    }
}

TEST(PcapFile, SimplePacketsTakeTheFirstInterfacesTimeOffsetAsInLibpcap) {
    Ng ng;
    ng.shb();
    ng.idb(1, 65535, -1, 3600);
    ng.spb(std::vector<uint8_t>(60, 0x04));
    TempFile t(ng.b);
    auto f = open_ok(t.path());
    const auto got = read_all(*f);
    ASSERT_EQ(got.size(), 1u);
    EXPECT_EQ(got[0].ts_us, 3600000000u);
    expect_same(got, libpcap_frames(t.path()));
}

// The deliberate differences from libpcap 1.10 (tests/fuzz/fuzz_capture.cpp skips
// these times when it compares the two readers).
TEST(PcapFile, TimesLibpcapGetsWrongAreReadAsTheFormatDefinesThem) {
    {  // classic pcap: unsigned 32-bit seconds, so 2^31 is January 2038, not December 1901
        TempFile t(pcap_bytes({{0x80000000u, 5, std::vector<uint8_t>(60, 0xab)}}));
        auto f = open_ok(t.path());
        const auto got = read_all(*f);
        ASSERT_EQ(got.size(), 1u);
        EXPECT_EQ(got[0].ts_us, 0x80000000ull * 1000000u + 5);
        const auto ref = libpcap_frames(t.path());
        ASSERT_EQ(ref.size(), 1u);
        EXPECT_NE(ref[0].ts_us, got[0].ts_us);  // libpcap: -2^31 s
    }
    {  // pcapng in units of 2^-50 s: libpcap's fraction * 10^6 overflows 64 bits
        Ng ng;
        ng.shb();
        ng.idb(1, 65535, 0x80 | 50);
        ng.epb(0, (uint64_t{1000} << 50) + (uint64_t{1} << 49), std::vector<uint8_t>(60, 0x01));  // 1000.5 s
        TempFile t(ng.b);
        auto f = open_ok(t.path());
        const auto got = read_all(*f);
        ASSERT_EQ(got.size(), 1u);
        EXPECT_EQ(got[0].ts_us, 1000500000u);
        const auto ref = libpcap_frames(t.path());
        ASSERT_EQ(ref.size(), 1u);
        EXPECT_NE(ref[0].ts_us, got[0].ts_us);
    }
}

TEST(PcapFile, PcapngPacketBeyondTheSnapLengthStopsTheReadingAsInLibpcap) {
    // Classic pcap cuts such a frame; libpcap's pcapng reader refuses it ("bigger than
    // snaplen"), and so do we, after the frames before it.
    Ng ng;
    ng.shb();
    ng.idb(1, 64);
    ng.epb(0, 1, std::vector<uint8_t>(60, 0x06));
    ng.epb(0, 2, std::vector<uint8_t>(100, 0x07));
    TempFile t(ng.b);
    auto f = open_ok(t.path());
    ASSERT_NE(f, nullptr);
    const auto got = read_all(*f);
    EXPECT_EQ(f->status(), PcapFile::Status::BadRecord);
    EXPECT_EQ(got.size(), 1u);
    expect_same(got, libpcap_frames(t.path()));
}

TEST(PcapFile, PcapngFramesMayBeAsLongAsTheSnapLengthWithinLibpcapsBlockBound) {
    // A classic record beyond 256 KiB is corrupt to libpcap; a pcapng frame is bounded
    // by its interface's snap length and its block's size (16 MiB) only.
    Ng ng;
    ng.shb();
    ng.idb(1, 1000000);
    ng.epb(0, 1, std::vector<uint8_t>(300000, 0x08));
    ng.block(0x99, std::vector<uint8_t>(PcapFile::kMaxBlock - 12, 0));  // a custom block of the largest size
    ng.epb(0, 2, std::vector<uint8_t>(60, 0x09));
    ng.block(0x99, std::vector<uint8_t>(PcapFile::kMaxBlock - 8, 0));  // one beyond it
    ng.epb(0, 3, std::vector<uint8_t>(60, 0x0a));
    TempFile t(ng.b);
    auto f = open_ok(t.path());
    ASSERT_NE(f, nullptr);
    EXPECT_EQ(f->snaplen(), 1000000u);
    const auto got = read_all(*f);
    EXPECT_EQ(f->status(), PcapFile::Status::BadRecord);
    ASSERT_EQ(got.size(), 2u);
    EXPECT_EQ(got[0].caplen, 300000u);
    expect_same(got, libpcap_frames(t.path()));
}

TEST(PcapFile, PcapngSectionHeadersAreCheckedAsLibpcapChecksThem) {
    auto file = [](auto&& first) {
        Ng ng;
        first(ng);
        ng.idb(1, 65535);
        ng.epb(0, 1, std::vector<uint8_t>(60, 0x01));
        return ng.b;
    };
    auto opens = [](const std::vector<uint8_t>& b) {
        TempFile t(b);
        PcapFile::OpenError err;
        std::string why;
        auto f = PcapFile::open(t.path(), err, why);
        char perr[PCAP_ERRBUF_SIZE];
        pcap_t* p = pcap_open_offline(t.path().c_str(), perr);
        EXPECT_EQ(f != nullptr, p != nullptr) << why << " / " << perr;
        if (p) pcap_close(p);
        if (!f) {
            EXPECT_EQ(err, PcapFile::OpenError::BadHeader);
            return false;
        }
        expect_same(read_all(*f), libpcap_frames(t.path()));
        return true;
    };
    // The first section header: versions 1.0 and 1.2 only, at most 1 MiB.
    EXPECT_TRUE(opens(file([](Ng& ng) { ng.shb(1, 2); })));
    EXPECT_FALSE(opens(file([](Ng& ng) { ng.shb(1, 1); })));
    EXPECT_FALSE(opens(file([](Ng& ng) { ng.shb(2, 0); })));
    EXPECT_TRUE(opens(file([](Ng& ng) { ng.shb(1, 0, (1u << 20) - 28); })));
    EXPECT_FALSE(opens(file([](Ng& ng) { ng.shb(1, 0, (1u << 20) - 24); })));
    // Its length need not be a multiple of 4, nor its trailer repeat it: libpcap
    // checks neither, and the next block starts where the length says.
    auto odd = file([](Ng& ng) { ng.shb(1, 0, 4); });
    odd.erase(odd.begin() + 26, odd.begin() + 28);
    odd[4] = 30;  // 32 -> 30
    EXPECT_TRUE(opens(odd));
    // Blocks before the first interface, another section header among them, are
    // passed over unread.
    EXPECT_TRUE(opens(file([](Ng& ng) {
        ng.shb();
        ng.block(5, std::vector<uint8_t>(20, 0));
        ng.shb(7, 7, 0, 0x01020304);
    })));
    // A later section header must keep the byte order and the major version.
    for (bool major : {false, true}) {
        auto b = file([](Ng& ng) { ng.shb(); });
        Ng next;
        if (major) next.shb(2, 0);
        else next.shb(1, 0, 0, 0x4d3c2b1a);
        next.idb(1, 65535);
        next.epb(0, 2, std::vector<uint8_t>(60, 0x02));
        b.insert(b.end(), next.b.begin(), next.b.end());
        TempFile t(b);
        auto f = open_ok(t.path());
        const auto got = read_all(*f);
        EXPECT_EQ(got.size(), 1u);
        EXPECT_EQ(f->status(), PcapFile::Status::BadRecord);
        expect_same(got, libpcap_frames(t.path()));
    }
}

TEST(PcapFile, DamagedPcapngStopsAtTheBlockThatCannotBeRead) {
    auto base = [] {
        Ng ng;
        ng.shb();
        ng.idb(1, 65535);
        ng.epb(0, 1, std::vector<uint8_t>(60, 0x01));
        return ng;
    };
    // The first frame read, then a block that stops the reading, as libpcap stops.
    auto stops_after_one = [](const Ng& ng, const char* what) {
        TempFile t(ng.b);
        auto f = open_ok(t.path());
        EXPECT_EQ(read_all(*f).size(), 1u) << what;
        EXPECT_EQ(f->status(), PcapFile::Status::BadRecord) << what;
        EXPECT_EQ(libpcap_frames(t.path()).size(), 1u) << what;
    };
    {
        Ng ng = base();
        ng.epb(3, 2, std::vector<uint8_t>(60, 0x02));
        stops_after_one(ng, "a packet on an interface never described");
    }
    {
        Ng ng = base();
        ng.idb(101, 65535);
        ng.epb(0, 2, std::vector<uint8_t>(60, 0x02));
        stops_after_one(ng, "a second interface of another link type");
    }
    {
        Ng ng = base();
        ng.idb(1, 1500);
        ng.epb(0, 2, std::vector<uint8_t>(60, 0x02));
        stops_after_one(ng, "a second interface of another snap length");
    }
    {
        Ng ng = base();
        ng.pb(1, 2, std::vector<uint8_t>(60, 0x02));
        stops_after_one(ng, "an obsolete Packet Block on an interface never described");
    }
    {  // a captured length larger than its block
        Ng ng = base();
        const size_t at = ng.b.size();
        ng.epb(0, 2, std::vector<uint8_t>(60, 0x02));
        ng.b[at + 20 + (ng.big ? 3 : 0)] = 200;  // caplen 60 -> 200
        TempFile t(ng.b);
        auto f = open_ok(t.path());
        EXPECT_EQ(read_all(*f).size(), 1u);
        EXPECT_EQ(f->status(), PcapFile::Status::BadRecord);
        EXPECT_EQ(f->offset(), at);
    }
    {  // cut inside the last block
        Ng ng = base();
        const size_t at = ng.b.size();
        ng.epb(0, 2, std::vector<uint8_t>(60, 0x02));
        TempFile t(std::vector<uint8_t>(ng.b.begin(), ng.b.end() - 8));
        auto f = open_ok(t.path());
        EXPECT_EQ(read_all(*f).size(), 1u);
        EXPECT_EQ(f->status(), PcapFile::Status::Truncated);
        EXPECT_EQ(f->offset(), at);
        expect_same(read_all(*f), {});
    }
    {  // a block length that is not a multiple of 4
        Ng ng = base();
        const size_t at = ng.b.size();
        ng.epb(0, 2, std::vector<uint8_t>(60, 0x02));
        ng.b[at + 4] = static_cast<uint8_t>(ng.b[at + 4] + 1);
        TempFile t(ng.b);
        auto f = open_ok(t.path());
        EXPECT_EQ(read_all(*f).size(), 1u);
        EXPECT_EQ(f->status(), PcapFile::Status::BadRecord);
    }
    {  // a trailer that does not repeat the block's length (libpcap: "header and trailer don't match")
        Ng ng = base();
        const size_t at = ng.b.size();
        ng.epb(0, 2, std::vector<uint8_t>(60, 0x02));
        ng.epb(0, 3, std::vector<uint8_t>(60, 0x03));
        ng.b[at + 60 + 32 - 4 + (ng.big ? 3 : 0)] ^= 4;
        TempFile t(ng.b);
        auto f = open_ok(t.path());
        EXPECT_EQ(read_all(*f).size(), 1u);
        EXPECT_EQ(f->status(), PcapFile::Status::BadRecord);
        EXPECT_EQ(f->offset(), at);
        EXPECT_EQ(libpcap_frames(t.path()).size(), 1u);
    }
    for (bool obsolete : {false, true}) {  // a packet before any interface description: refused at open, as libpcap does
        Ng ng;
        ng.shb();
        if (obsolete) ng.pb(0, 1, std::vector<uint8_t>(60, 0x01));
        else ng.epb(0, 1, std::vector<uint8_t>(60, 0x01));
        ng.idb(1, 65535);
        TempFile t(ng.b);
        PcapFile::OpenError err;
        std::string why;
        EXPECT_EQ(PcapFile::open(t.path(), err, why), nullptr);
        EXPECT_EQ(err, PcapFile::OpenError::BadHeader);
        char perr[PCAP_ERRBUF_SIZE];
        EXPECT_EQ(pcap_open_offline(t.path().c_str(), perr), nullptr) << "obsolete " << obsolete;
    }
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

TEST(PcapFile, RandomlyDamagedFilesNeverYieldAFrameOutsideTheFile) {
    // Flipped bytes, cut tails and spliced garbage in both formats: whatever the
    // reader makes of them, every frame lies inside the mapping, within the snap
    // length and its record, and the reading ends (at the end or at a stated offset).
    std::vector<std::vector<uint8_t>> seeds = {pcap_bytes(sample()), pcap_bytes(sample(), true, true, 100)};
    for (bool big : {false, true}) {
        Ng ng;
        ng.big = big;
        ng.shb();
        ng.idb(1, 65535, 9);
        ng.epb(0, 1, std::vector<uint8_t>(61, 1));
        ng.block(5, std::vector<uint8_t>(20, 0));
        ng.spb(std::vector<uint8_t>(62, 2));
        ng.epb(0, 2, std::vector<uint8_t>(1514, 3));
        seeds.push_back(ng.b);
    }
    std::mt19937 rng(7);
    unsigned files = 0, frames = 0;
    for (int round = 0; round < 400; ++round) {
        auto b = seeds[static_cast<size_t>(round) % seeds.size()];
        const int flips = 1 + static_cast<int>(rng() % 8);
        for (int i = 0; i < flips; ++i) b[24 + rng() % (b.size() - 24)] = static_cast<uint8_t>(rng());
        if (rng() % 3 == 0) b.resize(24 + rng() % (b.size() - 24));
        TempFile t(b);
        PcapFile::OpenError err;
        std::string why;
        auto f = PcapFile::open(t.path(), err, why);
        if (!f) continue;
        ++files;
        Frame fr[16];
        for (int calls = 0; calls < 10000; ++calls) {
            const uint32_t n = f->next(fr, 16);
            for (uint32_t i = 0; i < n; ++i) {
                ASSERT_GE(fr[i].data, f->bytes());
                ASSERT_LE(fr[i].data + fr[i].caplen, f->bytes() + f->size());
                ASSERT_LE(fr[i].caplen, f->snaplen());
                ++frames;
            }
            if (n < 16) break;
        }
        ASSERT_NE(f->status(), PcapFile::Status::Ok);
        ASSERT_LE(f->offset(), f->size());
    }
    EXPECT_GT(files, 200u);
    EXPECT_GT(frames, 0u);
}

// Before format 2.4 libpcap swaps a record's lengths (always before 2.3, where the
// captured one is the larger in 2.3): such files are left to libpcap (the pcap PMD).
TEST(PcapFile, PcapBeforeVersion24AndDgUxPcapAreLeftToLibpcap) {
    {  // DG/UX's 543.0: the two lengths always in the other order
        auto b = pcap_bytes({{1700000000, 1, std::vector<uint8_t>(60, 0xab), 1514}});
        b[4] = 543 & 0xff;
        b[5] = 543 >> 8;
        b[6] = 0;
        TempFile t(b);
        PcapFile::OpenError err;
        std::string why;
        EXPECT_EQ(PcapFile::open(t.path(), err, why), nullptr);
        EXPECT_EQ(err, PcapFile::OpenError::NotPcap);
        EXPECT_NE(why.find("version 543.0"), std::string::npos) << why;
        EXPECT_TRUE(libpcap_frames(t.path()).empty());  // 1514 bytes captured, past the end
    }
    for (const uint8_t minor : {uint8_t{0}, uint8_t{2}, uint8_t{3}}) {
        auto b = pcap_bytes({{1700000000, 1, std::vector<uint8_t>(60, 0xab), 1514}});
        b[6] = minor;
        TempFile t(b);
        PcapFile::OpenError err;
        std::string why;
        EXPECT_EQ(PcapFile::open(t.path(), err, why), nullptr);
        EXPECT_EQ(err, PcapFile::OpenError::NotPcap);
        EXPECT_NE(why.find("version 2." + std::to_string(minor)), std::string::npos) << why;
        const auto ref = libpcap_frames(t.path());
        ASSERT_EQ(ref.size(), minor < 3 ? 0u : 1u);  // 2.0-2.2: 1514 bytes captured, past the end
        if (minor == 3) {
            EXPECT_EQ(ref[0].caplen, 60u);
        }
    }
}

TEST(PcapFile, OtherFilesAreRefusedWithAReason) {
    PcapFile::OpenError err;
    std::string why;
    EXPECT_EQ(PcapFile::open("/nonexistent/x.pcap", err, why), nullptr);
    EXPECT_EQ(err, PcapFile::OpenError::System);
    EXPECT_NE(why.find("No such file"), std::string::npos) << why;

    TempFile text(std::vector<uint8_t>(64, 'x'));  // neither format
    EXPECT_EQ(PcapFile::open(text.path(), err, why), nullptr);
    EXPECT_EQ(err, PcapFile::OpenError::NotPcap);

    TempFile ng(pcap_bytes({}, false, false, 65535, 0x0a0d0d0a));  // pcapng magic, no byte-order magic
    EXPECT_EQ(PcapFile::open(ng.path(), err, why), nullptr);
    EXPECT_EQ(err, PcapFile::OpenError::BadHeader);

    TempFile shortf(std::vector<uint8_t>{0xd4, 0xc3, 0xb2, 0xa1, 2, 0});
    EXPECT_EQ(PcapFile::open(shortf.path(), err, why), nullptr);
    EXPECT_EQ(err, PcapFile::OpenError::BadHeader);

    // Versions libpcap does not read either: byte 4 is the major version, byte 6 the minor.
    for (const auto& [at, value, name] : {std::tuple{4, 1, "version 1.4"}, std::tuple{6, 5, "version 2.5"}}) {
        auto b = pcap_bytes({});
        b[static_cast<size_t>(at)] = static_cast<uint8_t>(value);
        TempFile t(b);
        EXPECT_EQ(PcapFile::open(t.path(), err, why), nullptr);
        EXPECT_EQ(err, PcapFile::OpenError::BadHeader);
        EXPECT_NE(why.find(name), std::string::npos) << why;
    }

    EXPECT_EQ(PcapFile::open("/tmp", err, why), nullptr);
    EXPECT_EQ(err, PcapFile::OpenError::System);
}

}  // namespace
