#include "detect/alerts.hpp"

#include <algorithm>
#include <cinttypes>
#include <cmath>
#include <cstdio>
#include <cstring>

namespace ws::detect {
namespace {

constexpr size_t kMaxAlertSources = 64;  // sources kept per alert while it lasts

bool same(const parse::Addr& a, const parse::Addr& b) noexcept { return std::memcmp(a.data(), b.data(), a.size()) == 0; }

std::string addr_text(const parse::Addr& a) {
    char buf[64];
    size_t n = parse::format_addr(a, buf, sizeof buf);
    return std::string(buf, n);
}

void append_time(std::string& s, uint64_t us) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%" PRIu64 ".%06" PRIu64, us / 1000000u, us % 1000000u);
    s += buf;
}

void append_num(std::string& s, const char* fmt, double v) {
    char buf[48];
    std::snprintf(buf, sizeof buf, fmt, v);
    s += buf;
}

// Adds n to a source's count in an alert's list, which stays bounded: a full list
// gives its smallest entry's place to a larger newcomer.
void add_source(Alert& a, const parse::Addr& h, uint64_t n) {
    for (auto& s : a.top_sources)
        if (same(s.h, h)) {
            s.count += n;
            return;
        }
    if (a.top_sources.size() < kMaxAlertSources) {
        a.top_sources.push_back({h, n});
        return;
    }
    auto m = std::min_element(a.top_sources.begin(), a.top_sources.end(),
                              [](const SourceCount& x, const SourceCount& y) { return x.count < y.count; });
    if (m->count < n) *m = {h, n};
}

// The sources worth naming: largest first, at most `keep`, and only those that
// sent a noticeable share (a spoofed flood's sources send one SYN each: none).
void trim_sources(Alert& a, uint32_t keep, uint64_t total) {
    auto& v = a.top_sources;
    std::sort(v.begin(), v.end(), [](const SourceCount& x, const SourceCount& y) {
        if (x.count != y.count) return x.count > y.count;
        return std::memcmp(x.h.data(), y.h.data(), x.h.size()) < 0;
    });
    v.erase(std::remove_if(v.begin(), v.end(),
                           [total](const SourceCount& s) { return s.count < 2 || s.count * 1000 < total; }),
            v.end());
    if (v.size() > keep) v.resize(keep);
}

bool key_less(const VictimKey& a, const VictimKey& b) noexcept {
    // Ports before hosts, so that a port-level alert suppresses the host-wide one
    // decided in the same interval; then byte order, for deterministic replays.
    if ((a.port == 0) != (b.port == 0)) return a.port != 0;
    return std::memcmp(&a, &b, sizeof a) < 0;
}

}  // namespace

const char* alert_type_name(AlertType t) noexcept {
    switch (t) {
        case AlertType::SynFlood: return "syn_flood";
        case AlertType::HalfOpen: return "half_open";
        case AlertType::PortScan: return "port_scan";
    }
    return "?";
}

std::string to_json(const Alert& a) {
    std::string s = "{\"type\":\"";
    s += alert_type_name(a.type);
    s += "\",\"start\":";
    append_time(s, a.start_us);
    s += ",\"end\":";
    append_time(s, a.end_us);
    s += ",\"victim_h\":\"" + addr_text(a.victim_h) + "\",\"victim_p\":" + std::to_string(a.victim_p);
    s += ",\"scanner_h\":";
    s += a.has_scanner ? "\"" + addr_text(a.scanner_h) + "\"" : std::string("null");
    s += ",\"peak_rate\":";
    append_num(s, "%.1f", a.peak_rate);
    s += ",\"half_open\":" + std::to_string(a.half_open);
    s += ",\"completion_ratio\":";
    if (a.type == AlertType::PortScan) s += "null";
    else append_num(s, "%.3f", a.completion_ratio());
    s += ",\"top_sources\":[";
    for (size_t i = 0; i < a.top_sources.size(); ++i) {
        if (i) s += ',';
        s += "{\"h\":\"" + addr_text(a.top_sources[i].h) + "\",\"count\":" + std::to_string(a.top_sources[i].count) + "}";
    }
    s += ']';
    if (a.type == AlertType::PortScan) {
        s += ",\"probes\":" + std::to_string(a.probes) + ",\"odd_probes\":" + std::to_string(a.odd_probes);
        s += ",\"distinct_ports\":" + std::to_string(static_cast<uint64_t>(std::lround(a.distinct_ports)));
    } else {
        s += ",\"syn\":" + std::to_string(a.syn) + ",\"synack\":" + std::to_string(a.synack) +
             ",\"completed\":" + std::to_string(a.completed);
    }
    s += '}';
    return s;
}

std::string to_text(const AlertEvent& e) {
    const Alert& a = e.alert;
    std::string s = alert_type_name(a.type);
    s += e.kind == AlertEvent::Kind::Start ? " started" : " ended";
    if (a.type == AlertType::PortScan) {
        s += ": " + addr_text(a.scanner_h) + " -> " + addr_text(a.victim_h) + ", ";
        append_num(s, "%.0f", a.distinct_ports);
        s += " ports, " + std::to_string(a.probes) + " probes (" + std::to_string(a.odd_probes) + " FIN/NULL/XMAS)";
    } else {
        s += " on " + addr_text(a.victim_h);
        if (a.victim_p) s += ":" + std::to_string(a.victim_p);
        s += ", peak ";
        append_num(s, "%.0f", a.peak_rate);
        s += " SYN/s, completion ";
        append_num(s, "%.2f", a.completion_ratio());
        s += ", half-open " + std::to_string(a.half_open);
        if (!a.top_sources.empty())
            s += ", top source " + addr_text(a.top_sources[0].h) + " (" + std::to_string(a.top_sources[0].count) + ")";
    }
    s += ", capture time ";
    append_time(s, a.start_us);
    if (e.kind == AlertEvent::Kind::End) {
        s += " - ";
        append_time(s, a.end_us);
    }
    return s;
}

AlertEngine::AlertEngine(const AlertConfig& cfg, unsigned workers)
    : cfg_(cfg), workers_(workers ? workers : 1), q_(workers_), done_(workers_, false), worker_drops_(workers_, 0) {
    if (cfg_.onset_intervals == 0) cfg_.onset_intervals = 1;
    if (cfg_.quiet_intervals == 0) cfg_.quiet_intervals = 1;
    if (cfg_.scan_quiet_windows == 0) cfg_.scan_quiet_windows = 1;
}

size_t AlertEngine::active_alerts() const noexcept {
    size_t n = 0;
    for (const auto& k : hot_) {
        auto it = victims_.find(k);
        if (it != victims_.end() && it->second.active) ++n;
    }
    for (const auto& [k, s] : scans_) n += s.active;
    return n;
}

void AlertEngine::take_events(std::vector<AlertEvent>& out) {
    for (auto& e : events_) out.push_back(std::move(e));
    events_.clear();
}

void AlertEngine::emit(AlertEvent::Kind kind, uint64_t at_us, const Alert& a) { events_.push_back({kind, at_us, a}); }

void AlertEngine::submit(unsigned worker, const IntervalReport& r) {
    if (worker >= workers_) return;
    ++stats_.reports;
    if (r.reports_dropped > worker_drops_[worker]) {
        stats_.worker_drops += r.reports_dropped - worker_drops_[worker];
        worker_drops_[worker] = r.reports_dropped;
    }
    if (!started_) {
        interval_us_ = r.interval_us ? r.interval_us : 1;
        window_intervals_ = r.window_intervals ? r.window_intervals : 1;
    }
    if (r.last) done_[worker] = true;
    if (started_ && r.interval < next_) {
        ++stats_.late_reports;  // decided without it (forced); its counts are lost
    } else {
        q_[worker].push_back(r);
    }
    pump(false);
}

void AlertEngine::pump(bool force_all) {
    for (;;) {
        bool any = false, ready = true;
        uint64_t i = UINT64_MAX;
        size_t longest = 0;
        for (unsigned w = 0; w < workers_; ++w) {
            if (!q_[w].empty()) {
                any = true;
                i = std::min(i, q_[w].front().interval);
                longest = std::max(longest, q_[w].size());
            } else if (!done_[w]) {
                ready = false;
            }
        }
        if (!any) return;
        if (!ready) {
            if (!force_all && (cfg_.max_pending_reports == 0 || longest <= cfg_.max_pending_reports)) return;
            ++stats_.forced;
        }
        decide(i);
    }
}

void AlertEngine::decide(uint64_t i) {
    if (!started_) {
        started_ = true;
        next_ = i;
        window_ = i / window_intervals_;
    }
    skip_to(i);

    merged_.clear();
    for (auto& q : q_) {
        while (!q.empty() && q.front().interval == i) {
            const IntervalReport& r = q.front();
            for (uint32_t k = 0; k < std::min(r.n_victims, kReportVictims); ++k) {
                const VictimStat& v = r.victims[k];
                Merged& m = merged_[v.key];
                m.syn += v.syn;
                m.syn_err += v.syn_err;
                m.synack += v.synack;
                m.completed += v.completed;
                m.aborted += v.aborted;
                m.half_open += v.half_open;
                if (v.first_us && (m.first_us == 0 || v.first_us < m.first_us)) m.first_us = v.first_us;
                m.last_us = std::max(m.last_us, v.last_us);
                if (v.top_src_syn) {
                    bool found = false;
                    for (auto& c : m.cands)
                        if (same(c.h, v.top_src)) c.count += v.top_src_syn, found = true;
                    if (!found) m.cands.push_back({v.top_src, v.top_src_syn});
                }
            }
            if (r.has_window && r.window == window_) {
                for (uint32_t k = 0; k < std::min(r.n_sources, kReportSources); ++k) {
                    const SourceStat& s = r.sources[k];
                    MergedSource& m = win_sources_[s.src];
                    m.syn += s.syn;
                    m.odd += s.odd;
                    if (s.top_dst_probes > m.top_dst_probes) m.top_dst = s.top_dst, m.top_dst_probes = s.top_dst_probes;
                    m.hosts.merge(s.hosts);
                    m.ports.merge(s.ports);
                }
                for (uint32_t k = 0; k < std::min(r.n_scans, kReportScans); ++k) {
                    const ScanStat& s = r.scans[k];
                    MergedScan& m = win_scans_[s.key];
                    m.probes += s.probes;
                    m.odd += s.odd;
                    if (s.first_us && (m.first_us == 0 || s.first_us < m.first_us)) m.first_us = s.first_us;
                    m.last_us = std::max(m.last_us, s.last_us);
                    m.ports.merge(s.ports);
                }
            }
            q.pop_front();
        }
    }
    ++stats_.intervals;

    std::vector<VictimKey> keys;
    keys.reserve(merged_.size());
    for (auto& [k, m] : merged_) {
        keys.push_back(k);
        for (const auto& c : m.cands)
            if (c.count > m.top_src_syn) m.top_src = c.h, m.top_src_syn = c.count;
    }
    std::sort(keys.begin(), keys.end(), key_less);
    for (const auto& k : keys) step(k, victims_[k], merged_[k], i);
    const Merged none{};
    std::vector<VictimKey> old_hot;
    old_hot.swap(hot_);
    for (const auto& k : old_hot) {
        VictimState& st = victims_[k];
        if (st.last_interval != i) step(k, st, none, i);
    }
    // Victims with an active or pending alert: stepped every interval, reported or not.
    for (const auto* list : {&keys, &old_hot})
        for (const auto& k : *list) {
            const VictimState& st = victims_[k];
            if ((st.active || st.over > 0) && std::find(hot_.begin(), hot_.end(), k) == hot_.end()) hot_.push_back(k);
        }

    next_ = i + 1;
    if (next_ % window_intervals_ == 0) close_window();
    if (victims_.size() > cfg_.max_victims) prune();
}

// Intervals nobody reported: quiet for every victim. Baselines decay lazily (on
// the victim's next step); only victims with a pending or active alert step here.
void AlertEngine::skip_to(uint64_t i) {
    while (next_ < i) {
        // Nothing left that ages with time (no victim to step, no scan counting its
        // quiet windows, nothing gathered in the open window): every window before
        // i's would close empty, so go there at once. A capture's clock may jump by
        // years (a bad timestamp); one window at a time that took minutes.
        if (hot_.empty() && scans_.empty() && ending_.empty() && win_sources_.empty() && win_scans_.empty()) {
            window_ = std::max(window_, i / window_intervals_);
            next_ = i;
            return;
        }
        const uint64_t wend = (window_ + 1) * window_intervals_;
        const uint64_t upto = std::min(i, wend);
        quiet_steps(upto - next_, next_);
        next_ = upto;
        if (next_ == wend) close_window();
    }
}

void AlertEngine::quiet_steps(uint64_t n, uint64_t from) {
    const Merged none{};
    for (uint64_t s = 0; s < n && !hot_.empty(); ++s) {
        std::vector<VictimKey> old_hot;
        old_hot.swap(hot_);
        for (const auto& k : old_hot) {
            VictimState& st = victims_[k];
            step(k, st, none, from + s);
            if (st.active || st.over > 0) hot_.push_back(k);
        }
    }
}

void AlertEngine::step(const VictimKey& k, VictimState& st, const Merged& m, uint64_t i) {
    const double a = cfg_.baseline_alpha, b = cfg_.ratio_alpha, dt = interval_s();
    if (st.last_interval != 0 && i > st.last_interval + 1) {
        // Not reported meanwhile: its backlog was below every worker's reporting minimum.
        st.ho_cooldown = false;
        const double gap = static_cast<double>(i - st.last_interval - 1);
        const double da = std::pow(1 - a, gap), db = std::pow(1 - b, gap);
        st.base_excess *= da;
        st.base_half_open *= da;
        st.ewma_synack *= db;
        st.ewma_completed *= db;
    }
    st.last_interval = i;

    const double syn = static_cast<double>(m.syn), completed = static_cast<double>(m.completed);
    const double excess = std::max(0.0, syn - completed) / dt;
    const double ratio = m.syn ? completed / syn : 1.0;
    st.ewma_synack = (1 - b) * st.ewma_synack + b * static_cast<double>(m.synack);
    st.ewma_completed = (1 - b) * st.ewma_completed + b * completed;
    // Nothing completing at all (both near zero) counts as a low ratio: a backlog
    // that stays full while the server has stopped answering.
    const double ho_ratio = st.ewma_completed / std::max({st.ewma_synack, st.ewma_completed, 1e-3});
    const auto half_open = static_cast<double>(m.half_open);
    if (half_open < cfg_.half_open_min) st.ho_cooldown = false;

    const bool dominated = k.port == 0 && m.syn > 0 &&
                           static_cast<double>(m.top_src_syn) > cfg_.dominant_source_share * syn;
    const bool flood = excess >= cfg_.syn_rate_min && excess >= cfg_.baseline_factor * st.base_excess &&
                       ratio <= cfg_.completion_ratio_max && !dominated;
    const bool ho = !st.ho_cooldown && half_open >= cfg_.half_open_min &&
                    half_open >= cfg_.baseline_factor * st.base_half_open && ho_ratio <= cfg_.completion_ratio_max;
    const uint64_t at = (i + 1) * interval_us_;

    auto accumulate = [&] {
        Alert& al = st.alert;
        al.syn += m.syn;
        al.synack += m.synack;
        al.completed += m.completed;
        al.peak_rate = std::max(al.peak_rate, syn / dt);
        al.half_open = std::max<int64_t>(al.half_open, m.half_open);
        if (flood) al.type = AlertType::SynFlood;
    };

    if (!st.active) {
        if (!(flood || ho)) {
            st.over = 0;
            st.base_excess = (1 - a) * st.base_excess + a * excess;
            st.base_half_open = (1 - a) * st.base_half_open + a * half_open;
            return;
        }
        if (st.over == 0) {
            st.alert = Alert{};
            st.alert.type = flood ? AlertType::SynFlood : AlertType::HalfOpen;
            st.alert.victim_h = k.host;
            st.alert.victim_p = k.port;
            st.alert.start_us = m.first_us ? m.first_us : i * interval_us_;
        }
        ++st.over;
        accumulate();
        st.last_over_us = m.last_us ? m.last_us : at - 1;
        if (st.over >= cfg_.onset_intervals) {
            auto h = host_active_.find(k.host);
            const bool suppressed = h != host_active_.end() &&
                                    (k.port != 0 ? h->second.host : (h->second.ports > 0 || h->second.scans > 0));
            if (!suppressed) {
                start_alert(k, st, at);
            } else {
                st.over = 0;  // covered by the other alert; a fresh onset is needed after it
            }
        }
        return;
    }

    // Active. A flood lasts while the rate does (its backlog drains after it);
    // a half-open alert lasts while either condition holds.
    const bool over = st.alert.type == AlertType::SynFlood ? flood : (flood || ho);
    accumulate();
    if (over) {
        st.quiet = 0;
        st.last_over_us = m.last_us ? m.last_us : at - 1;
    } else if (++st.quiet >= cfg_.quiet_intervals) {
        end_alert(k, st);
    }
}

void AlertEngine::start_alert(const VictimKey& k, VictimState& st, uint64_t at_us) {
    st.active = true;
    st.quiet = 0;
    HostActive& h = host_active_[k.host];
    if (k.port) ++h.ports;
    else h.host = true;
    ++stats_.alerts;
    emit(AlertEvent::Kind::Start, at_us, st.alert);
}

void AlertEngine::end_alert(const VictimKey& k, VictimState& st) {
    st.active = false;
    st.over = 0;
    st.quiet = 0;
    st.alert.end_us = std::max(st.last_over_us, st.alert.start_us);
    if (st.alert.type == AlertType::SynFlood) {
        // The backlog the flood left (on the port, and so on the host) drains
        // without a second alert.
        st.ho_cooldown = true;
        if (k.port) {
            VictimKey hk = k;
            hk.port = 0;
            victims_[hk].ho_cooldown = true;
        }
    }
    auto h = host_active_.find(k.host);
    if (h != host_active_.end()) {
        if (k.port && h->second.ports) --h->second.ports;
        if (!k.port) h->second.host = false;
        if (!h->second.ports && !h->second.host && !h->second.scans) host_active_.erase(h);
    }
    ending_.push_back(std::move(st.alert));
    st.alert = Alert{};
}

// End of a window: name the sources of the floods, decide port scans, and emit
// the floods that ended meanwhile (their sources are known now).
void AlertEngine::close_window() {
    const uint64_t wend_us = (window_ + 1) * window_intervals_ * interval_us_;
    const double wsec = static_cast<double>(window_intervals_) * interval_s();

    std::vector<std::pair<parse::Addr, const MergedSource*>> srcs;
    for (const auto& [a, s] : win_sources_)
        if (s.syn > 0) srcs.emplace_back(a, &s);
    auto attribute = [&](Alert& al) {
        for (const auto& [a, s] : srcs)
            if (same(s->top_dst, al.victim_h)) add_source(al, a, s->syn);
    };
    for (const auto& k : hot_) {
        VictimState& st = victims_[k];
        if (st.active || st.over > 0) attribute(st.alert);
    }
    for (auto& al : ending_) attribute(al);

    // Port scans.
    std::vector<PairKey> keys;
    for (const auto& [k, m] : win_scans_) keys.push_back(k);
    std::sort(keys.begin(), keys.end(), [](const PairKey& x, const PairKey& y) { return std::memcmp(&x, &y, sizeof x) < 0; });
    for (const auto& k : keys) {
        const MergedScan& m = win_scans_[k];
        const bool over = m.ports.estimate() >= cfg_.scan_ports_min;
        auto it = scans_.find(k);
        if (!over && it == scans_.end()) continue;
        ScanState& st = scans_[k];
        Alert& al = st.alert;
        st.ports.merge(m.ports);
        al.probes += m.probes;
        al.odd_probes += m.odd;
        al.peak_rate = std::max(al.peak_rate, static_cast<double>(m.probes) / wsec);
        al.end_us = std::max(al.end_us, m.last_us);
        if (m.first_us && (al.start_us == 0 || m.first_us < al.start_us)) al.start_us = m.first_us;
        al.distinct_ports = st.ports.estimate();
        if (!over) continue;
        st.quiet = 0;
        st.seen_window = window_ + 1;
        if (!st.active) {
            st.active = true;
            al.type = AlertType::PortScan;
            al.victim_h = k.dst;
            al.victim_p = 0;
            al.has_scanner = true;
            al.scanner_h = k.src;
            ++host_active_[k.dst].scans;
            ++stats_.alerts;
            emit(AlertEvent::Kind::Start, wend_us, al);
        }
    }
    std::vector<PairKey> ended;
    for (auto& [k, st] : scans_)
        if (st.seen_window != window_ + 1 && ++st.quiet >= cfg_.scan_quiet_windows) ended.push_back(k);
    std::sort(ended.begin(), ended.end(), [](const PairKey& x, const PairKey& y) { return std::memcmp(&x, &y, sizeof x) < 0; });
    for (const auto& k : ended) end_scan(k, wend_us);

    for (auto& al : ending_) {
        trim_sources(al, cfg_.top_sources, al.syn);
        emit(AlertEvent::Kind::End, wend_us, al);
    }
    ending_.clear();
    win_sources_.clear();
    win_scans_.clear();
    ++window_;
}

void AlertEngine::end_scan(const PairKey& k, uint64_t at_us) {
    auto it = scans_.find(k);
    if (it == scans_.end()) return;
    ScanState& st = it->second;
    if (st.active) {
        Alert& al = st.alert;
        al.top_sources = {{k.src, al.probes}};
        emit(AlertEvent::Kind::End, at_us, al);
        auto h = host_active_.find(k.dst);
        if (h != host_active_.end()) {
            if (h->second.scans) --h->second.scans;
            if (!h->second.ports && !h->second.host && !h->second.scans) host_active_.erase(h);
        }
    }
    scans_.erase(it);
}

void AlertEngine::finish() {
    pump(true);
    if (!started_) return;
    const uint64_t at = next_ * interval_us_;
    // Shutdown: every alert still active ends now, with what is known.
    std::vector<VictimKey> active;
    for (const auto& k : hot_)
        if (victims_[k].active) active.push_back(k);
    std::sort(active.begin(), active.end(), key_less);
    // The open window is cut short: its sources and scans are decided first.
    close_window();
    for (const auto& k : active) end_alert(k, victims_[k]);
    hot_.clear();
    std::vector<PairKey> scans;
    for (const auto& [k, st] : scans_) scans.push_back(k);
    std::sort(scans.begin(), scans.end(), [](const PairKey& x, const PairKey& y) { return std::memcmp(&x, &y, sizeof x) < 0; });
    for (const auto& k : scans) end_scan(k, at);
    for (auto& al : ending_) {
        trim_sources(al, cfg_.top_sources, al.syn);
        emit(AlertEvent::Kind::End, at, al);
    }
    ending_.clear();
}

// Forgets the servers seen least recently (their baselines decayed anyway),
// never one with an active or pending alert.
void AlertEngine::prune() {
    std::vector<std::pair<uint64_t, VictimKey>> idle;
    for (const auto& [k, st] : victims_)
        if (!st.active && st.over == 0) idle.emplace_back(st.last_interval, k);
    const size_t target = cfg_.max_victims - cfg_.max_victims / 4;
    if (victims_.size() <= target) return;
    size_t drop = std::min(idle.size(), victims_.size() - target);
    std::nth_element(idle.begin(), idle.begin() + static_cast<std::ptrdiff_t>(drop), idle.end(),
                     [](const auto& x, const auto& y) { return x.first < y.first; });
    for (size_t j = 0; j < drop; ++j) victims_.erase(idle[j].second);
}

}  // namespace ws::detect
