#include "track/record.hpp"

namespace ws::track {

std::string_view tcp_state_name(TcpState s) noexcept {
    switch (s) {
        case TcpState::Closed: return "CLOSED";
        case TcpState::Listen: return "LISTEN";
        case TcpState::SynSent: return "SYN_SENT";
        case TcpState::SynReceived: return "SYN_RECV";
        case TcpState::Established: return "ESTABLISHED";
        case TcpState::FinWait1: return "FIN_WAIT1";
        case TcpState::FinWait2: return "FIN_WAIT2";
        case TcpState::CloseWait: return "CLOSE_WAIT";
        case TcpState::Closing: return "CLOSING";
        case TcpState::LastAck: return "LAST_ACK";
        case TcpState::TimeWait: return "TIME_WAIT";
    }
    return "?";
}

std::string_view zeek_state_name(ZeekState s) noexcept {
    switch (s) {
        case ZeekState::S0: return "S0";
        case ZeekState::S1: return "S1";
        case ZeekState::SF: return "SF";
        case ZeekState::REJ: return "REJ";
        case ZeekState::S2: return "S2";
        case ZeekState::S3: return "S3";
        case ZeekState::RSTO: return "RSTO";
        case ZeekState::RSTR: return "RSTR";
        case ZeekState::RSTOS0: return "RSTOS0";
        case ZeekState::RSTRH: return "RSTRH";
        case ZeekState::SH: return "SH";
        case ZeekState::SHR: return "SHR";
        case ZeekState::OTH: return "OTH";
    }
    return "?";
}

std::string_view end_reason_name(EndReason r) noexcept {
    switch (r) {
        case EndReason::Closed: return "closed";
        case EndReason::Timeout: return "timeout";
        case EndReason::Reused: return "reused";
        case EndReason::Evicted: return "evicted";
        case EndReason::Flushed: return "flushed";
    }
    return "?";
}

}  // namespace ws::track
