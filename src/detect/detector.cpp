#include "detect/detector.hpp"

#include <algorithm>
#include <cstring>

namespace ws::detect {
namespace {

namespace fl = parse::flag;

bool same(const parse::Addr& a, const parse::Addr& b) noexcept { return key_eq(a, b); }

VictimKey victim(const parse::Addr& host, uint16_t port) noexcept {
    VictimKey k{};
    k.host = host;
    k.port = port;
    return k;
}

// Boyer-Moore majority vote: `cand` ends as the majority element if there is one.
void vote(parse::Addr& cand, int32_t& counter, const parse::Addr& x) noexcept {
    if (counter == 0) {
        cand = x;
        counter = 1;
    } else if (same(cand, x)) {
        ++counter;
    } else {
        --counter;
    }
}

}  // namespace

Detector::Detector(const DetectConfig& cfg) noexcept : cfg_(cfg), probes_(cfg.probe_budget) {
    if (cfg_.interval_us == 0) cfg_.interval_us = 1;
    if (cfg_.window_intervals == 0) cfg_.window_intervals = 1;
    if (!cfg_.enabled) next_boundary_ = UINT64_MAX;
}

void Detector::roll(uint64_t ts_us) noexcept {
    if (finished_) return;
    const uint64_t iv = ts_us / cfg_.interval_us;
    if (!started_) {
        started_ = true;
    } else if (iv > cur_) {
        const bool window_ends = iv / cfg_.window_intervals != window_;
        emit(window_ends, false);
        packets_ = syn_ = synack_ = odd_ = 0;
        probes_.reset();
        ports_.clear();
        hosts_.clear();
        if (window_ends) {
            sources_.clear();
            pairs_.clear();
        }
    } else {
        return;
    }
    cur_ = iv;
    window_ = iv / cfg_.window_intervals;
    next_boundary_ = (iv + 1) * cfg_.interval_us;
}

void Detector::finish(uint64_t now_us) noexcept {
    if (finished_ || !cfg_.enabled) return;
    if (!started_) {  // never saw a packet: still tell the management core we are done
        started_ = true;
        cur_ = now_us / cfg_.interval_us;
        window_ = cur_ / cfg_.window_intervals;
    }
    emit(true, true);
    finished_ = true;
    next_boundary_ = UINT64_MAX;
}

void Detector::on_control(const parse::PacketView& v, uint64_t ts_us) noexcept {
    if (finished_) return;
    const uint8_t f = v.flags;
    const bool syn = f & fl::Syn, ack = f & fl::Ack, fin = f & fl::Fin, rst = f & fl::Rst;
    if (syn && !fin && !rst) {
        if (!ack) {
            ++syn_;
            const uint64_t hh = host_hash(v.dst);
            count_syn_victim(hosts_, victim(v.dst, 0), hh, v.src, ts_us);
            if (v.dport != 0) count_syn_victim(ports_, victim(v.dst, v.dport), port_hash(hh, v.dport), v.src, ts_us);
            if (const uint32_t w = probes_.next()) count_probe(v, hh, false, ts_us, w);
        } else {
            ++synack_;
            const uint64_t hh = host_hash(v.src);
            if (auto* e = hosts_.find(victim(v.src, 0), hh)) ++e->aux.synack;
            if (auto* e = ports_.find(victim(v.src, v.sport), port_hash(hh, v.sport))) ++e->aux.synack;
        }
        return;
    }
    // No ACK and no SYN: FIN, NULL, XMAS and other scanner probes; a bare RST is a
    // normal answer to an unexpected segment. SYN with FIN or RST: always a probe.
    if ((!syn && !ack && !rst) || (syn && (fin || rst))) {
        ++odd_;
        if (const uint32_t w = probes_.next()) count_probe(v, host_hash(v.dst), true, ts_us, w);
    }
}

void Detector::count_syn_victim(Victims& s, const VictimKey& k, uint64_t h, const parse::Addr& src,
                                uint64_t ts) noexcept {
    auto& e = s.add(k, h);
    VictimAux& a = e.aux;
    if (a.first_us == 0) a.first_us = ts;
    a.last_us = ts;
    const bool was = a.bm > 0 && same(a.top_src, src);
    vote(a.top_src, a.bm, src);
    if (was) ++a.top_src_syn;
    else if (a.bm == 1 && same(a.top_src, src)) a.top_src_syn = 1;  // became the candidate
}

// A probe that counts, with weight w (ProbeSampler::next()).
void Detector::count_probe(const parse::PacketView& v, uint64_t hh, bool odd, uint64_t ts, uint32_t w) noexcept {
    const uint64_t hs = host_hash(v.src);
    const uint64_t hp = mix64(cfg_.seed ^ (uint64_t{v.dport} * 0xd6e8feb86659fd93ull));
    auto& s = sources_.add(v.src, hs, w);
    if (odd) s.aux.odd += w;
    else s.aux.syn += w;
    s.aux.hosts.add(hh);
    s.aux.ports.add(hp);
    vote(s.aux.top_dst, s.aux.bm, v.dst);

    PairKey pk{v.src, v.dst};
    auto& p = pairs_.add(pk, mix64(hs ^ ((hh << 17) | (hh >> 47))), w);
    if (odd) p.aux.odd += w;
    if (p.aux.first_us == 0) p.aux.first_us = ts;
    p.aux.last_us = ts;
    p.aux.ports.add(hp);
}

void Detector::half_open_enter(const parse::Addr& host, uint16_t port) noexcept {
    const uint64_t hh = host_hash(host), hp = port_hash(hh, port);
    const int32_t eh = half_open_.add(hh, 1);
    const int32_t ep = port != 0 ? half_open_.add(hp, 1) : 0;
    if (eh >= cfg_.half_open_report_min) note_candidate(victim(host, 0), hh, eh);
    if (ep >= cfg_.half_open_report_min) note_candidate(victim(host, port), hp, ep);
}

void Detector::half_open_leave(const parse::Addr& host, uint16_t port, Leave why) noexcept {
    const uint64_t hh = host_hash(host), hp = port_hash(hh, port);
    half_open_.add(hh, -1);
    if (port != 0) half_open_.add(hp, -1);
    if (why == Leave::Ended) return;
    auto* eh = hosts_.find(victim(host, 0), hh);
    auto* ep = port != 0 ? ports_.find(victim(host, port), hp) : nullptr;
    if (why == Leave::Completed) {
        if (eh) ++eh->aux.completed;
        if (ep) ++ep->aux.completed;
    } else {
        if (eh) ++eh->aux.aborted;
        if (ep) ++ep->aux.aborted;
    }
}

int32_t Detector::half_open(const parse::Addr& host, uint16_t port) const noexcept {
    const uint64_t hh = host_hash(host);
    return half_open_.estimate(port == 0 ? hh : port_hash(hh, port));
}

// Servers whose gauge passed the reporting minimum; when the list is full, the
// one with the smallest current estimate makes room for a larger newcomer.
void Detector::note_candidate(const VictimKey& k, uint64_t h, int32_t est) noexcept {
    for (unsigned i = 0; i < n_cand_; ++i)
        if (cand_[i].hash == h && cand_[i].key == k) return;
    if (n_cand_ < kHalfOpenCandidates) {
        cand_[n_cand_++] = {k, h};
        return;
    }
    unsigned min_i = 0;
    int32_t min_est = INT32_MAX;
    for (unsigned i = 0; i < n_cand_; ++i) {
        const int32_t e = half_open_.estimate(cand_[i].hash);
        if (e < min_est) min_est = e, min_i = i;
    }
    if (min_est < est) cand_[min_i] = {k, h};
}

void Detector::fill_victim(VictimStat& out, const Victims::Entry* e, const VictimKey& k, uint64_t h) const noexcept {
    out = VictimStat{};
    out.key = k;
    out.half_open = std::max(0, half_open_.estimate(h));
    if (e == nullptr) return;
    out.syn = e->count - e->err;
    out.syn_err = e->err;
    out.synack = e->aux.synack;
    out.completed = e->aux.completed;
    out.aborted = e->aux.aborted;
    out.top_src = e->aux.top_src;
    out.top_src_syn = e->aux.top_src_syn;
    out.first_us = e->aux.first_us;
    out.last_us = e->aux.last_us;
}

void Detector::emit(bool with_window, bool last) noexcept {
    if (pend_n_ == kPending) {  // nobody drained: the oldest report is lost, counted
        pend_head_ = pend_head_ + 1 == kPending ? 0 : pend_head_ + 1;
        --pend_n_;
        ++dropped_;
    }
    unsigned slot = pend_head_ + pend_n_;
    if (slot >= kPending) slot -= kPending;
    ++pend_n_;
    IntervalReport& r = pend_[slot];
    r.interval = cur_;
    r.interval_us = cfg_.interval_us;
    r.window = window_;
    r.window_intervals = cfg_.window_intervals;
    r.has_window = with_window;
    r.last = last;
    r.packets = packets_;
    r.syn = syn_;
    r.synack = synack_;
    r.odd = odd_;
    r.reports_dropped = dropped_;

    // Victims: the top SYN receivers (ports, then hosts), then half-open candidates.
    unsigned n = 0;
    const Victims::Entry* top[std::max(kTopPorts, kTopHosts)];
    for (const Victims* s : {&ports_, &hosts_}) {
        const unsigned m = s->top(top, s == &ports_ ? kTopPorts : kTopHosts);
        for (unsigned i = 0; i < m; ++i) fill_victim(r.victims[n++], top[i], top[i]->key, top[i]->hash);
    }
    for (unsigned i = 0; i < n_cand_;) {
        const Candidate& c = cand_[i];
        if (half_open_.estimate(c.hash) < cfg_.half_open_report_min / 2) {  // drained: forget it
            cand_[i] = cand_[--n_cand_];
            continue;
        }
        ++i;
        bool dup = false;
        for (unsigned j = 0; j < n && !dup; ++j) dup = r.victims[j].key == c.key;
        if (dup || n == kReportVictims) continue;
        const Victims& s = c.key.port == 0 ? hosts_ : ports_;
        fill_victim(r.victims[n++], s.find(c.key, c.hash), c.key, c.hash);
    }
    r.n_victims = n;

    r.n_sources = r.n_scans = 0;
    if (!with_window) return;
    const Sources::Entry* ts[kReportSources];
    const unsigned ns = sources_.top(ts, kReportSources);
    for (unsigned i = 0; i < ns; ++i) {
        SourceStat& o = r.sources[i];
        o = SourceStat{};
        o.src = ts[i]->key;
        o.syn = ts[i]->aux.syn;
        o.odd = ts[i]->aux.odd;
        o.syn_err = ts[i]->err;
        o.top_dst = ts[i]->aux.top_dst;
        o.top_dst_probes = static_cast<uint32_t>(std::max(0, ts[i]->aux.bm));
        o.hosts = ts[i]->aux.hosts;
        o.ports = ts[i]->aux.ports;
    }
    r.n_sources = ns;
    const Pairs::Entry* tp[kReportScans];
    const unsigned np = pairs_.top(tp, kReportScans);
    for (unsigned i = 0; i < np; ++i) {
        ScanStat& o = r.scans[i];
        o = ScanStat{};
        o.key = tp[i]->key;
        o.probes = tp[i]->count - tp[i]->err;
        o.probes_err = tp[i]->err;
        o.odd = tp[i]->aux.odd;
        o.first_us = tp[i]->aux.first_us;
        o.last_us = tp[i]->aux.last_us;
        o.ports = tp[i]->aux.ports;
    }
    r.n_scans = np;
}

}  // namespace ws::detect
