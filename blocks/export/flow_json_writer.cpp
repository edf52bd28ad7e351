#include "flow_json_writer.hpp"
#include "ip_text.hpp"

#include <classify/classifier.hpp>
#include <weir/registry.hpp>

#include <netinet/in.h>

#include <cerrno>
#include <cstring>
#include <nlohmann/json.hpp>
#include <stdexcept>

namespace weir::blocks {

FlowJsonWriter::FlowJsonWriter(BlockSetup& s) : Block(s) {
    path_ = s.param<std::string>("json.file", "flows.json", "output file, - for standard output");
    s.input<flow::FlowBatch>("in_flow", "finished flows", true, {"in_flows"});
    s.counter("flows", flows_, "flows", "flows written");
    s.counter("write_errors", write_errors_, "errors", "failed writes (disk full, ...)");
}

FlowJsonWriter::~FlowJsonWriter() {
    if (owned_ && file_ != nullptr) {
        std::fclose(file_);
    }
}

void FlowJsonWriter::start() {
    if (path_ == "-") {
        file_ = stdout;
        return;
    }
    file_ = std::fopen(path_.c_str(), "w");
    if (file_ == nullptr) {
        throw std::runtime_error("cannot write '" + path_ + "': " + std::strerror(errno));
    }
    owned_ = true;
}

void FlowJsonWriter::receive(InputId, const Message& msg) {
    for (const auto& r : static_cast<const flow::FlowBatch&>(msg)) {
        nlohmann::json j;
        j["proto"] = r.key.proto == IPPROTO_TCP ? "tcp" : "udp";
        j["ip_version"] = r.key.ip_version;
        for (int d = 0; d < 2; ++d) {
            const auto& s = r.dir[d];
            nlohmann::json side = {
                {"ip", ip_text(r.key.ip_version, r.key.addr[d])},
                {"port", r.key.port[d]},
                {"pkts", s.pkts_all},
                {"bytes", s.wire_bytes},
                {"payload_bytes", s.bytes_all},
                {"payload_bytes_uniq", s.bytes_uniq},
            };
            if (r.key.proto == IPPROTO_TCP) {
                side["retx_pkts"] = s.pkts_retx;
                side["ooo_pkts"] = s.pkts_ooo;
                side["syn"] = s.syn_cnt;
                side["fin"] = s.fin_cnt;
                side["rst"] = s.rst_cnt;
            }
            if (r.extended) {
                side["rtt_cnt"] = s.rtt_cnt;
                if (s.rtt_cnt > 0) {
                    side["rtt_avg_ms"] = s.rtt_sum_ms / s.rtt_cnt;
                    side["rtt_min_ms"] = s.rtt_min_ms;
                    side["rtt_max_ms"] = s.rtt_max_ms;
                }
                if (s.pkts_all > 0) {  // a side that sent nothing has no TTL
                    side["ttl_min"] = s.ttl_min;
                    side["ttl_max"] = s.ttl_max;
                }
            }
            j[d == 0 ? "client" : "server"] = std::move(side);
        }
        j["first_ns"] = r.first_ns;
        j["last_ns"] = r.last_ns;
        j["reason"] = flow::to_string(r.reason);
        j["complete"] = r.complete;
        j["midstream"] = r.midstream;
        if (r.classified) {
            j["app"] = std::string(classify::to_string(static_cast<classify::App>(r.app)));
            j["app_by_port"] = r.app_by_port;
            j["con_t"] = r.con_t;
            j["p2p_t"] = r.p2p_t;
            j["http_t"] = r.http_t;
            j["udp_type"] = {r.udp_type[0], r.udp_type[1]};
            if (!r.name().empty()) {
                j["name"] = std::string(r.name());
            }
            if (!r.fqdn().empty()) {
                j["fqdn"] = std::string(r.fqdn());
            }
            if (!r.alpn().empty()) {
                j["alpn"] = std::string(r.alpn());
            }
            if (r.tls_version[0] != 0 || r.tls_version[1] != 0) {
                j["tls_version"] = {r.tls_version[0], r.tls_version[1]};
            }
            if (r.http_status != 0) {
                j["http_status"] = r.http_status;
            }
        }
        // Names come from the wire: replace invalid UTF-8 instead of failing the line.
        line_ = j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
        line_ += '\n';
        if (std::fwrite(line_.data(), 1, line_.size(), file_) != line_.size()) {
            write_errors_.add(1);
        } else {
            flows_.add(1);
        }
    }
}

void FlowJsonWriter::flush() {
    if (file_ != nullptr && std::fflush(file_) != 0) {
        write_errors_.add(1);
    }
}

}  // namespace weir::blocks

WEIR_REGISTER_BLOCK(weir::blocks::FlowJsonWriter, "FlowJsonWriter", weir::Invocation::kDirect | weir::Invocation::kIndirect,
                    "finished flows as JSON lines, one object per flow")
