// DpdkSource -> PacketCounter on one core, on DPDK's net_null device (endless synthetic packets,
// no NIC, no hugepages): the engine's receive path per core, against a bare rx_burst + free loop
// on the same device as the floor.
//   build/bench/weir_dpdk_bench [seconds per run, default 5] [packet size, default 64] [runs, default 3]
#include <weir/capture/dpdk_capture.hpp>
#include <weir/engine.hpp>

#include <rte_ethdev.h>
#include <rte_mbuf.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>

namespace {

std::string cpu_model() {
    std::ifstream in("/proc/cpuinfo");
    for (std::string l; std::getline(in, l);) {
        if (l.rfind("model name", 0) == 0) {
            return l.substr(l.find(':') + 2);
        }
    }
    return "unknown";
}

double cpu_mhz() {
    std::ifstream in("/proc/cpuinfo");
    for (std::string l; std::getline(in, l);) {
        if (l.rfind("cpu MHz", 0) == 0) {
            return std::stod(l.substr(l.find(':') + 2));
        }
    }
    return 0;
}

uint64_t read_u64(const weir::Engine& e, const std::string& block, const std::string& var) {
    const auto v = e.read_variable(block, var);
    return v ? std::get<uint64_t>(*v) : 0;
}

}  // namespace

int main(int argc, char** argv) {
    const double seconds = argc > 1 ? std::stod(argv[1]) : 5.0;
    const int size = argc > 2 ? std::stoi(argv[2]) : 64;
    const int runs = argc > 3 ? std::stoi(argv[3]) : 3;
    weir::capture::EalConfig eal;
    eal.no_huge = true;
    eal.memory_mb = 512;
    eal.no_pci = true;
    eal.no_shconf = true;
    weir::capture::ensure_eal(eal, false);
    std::printf("CPU: %s, %.0f MHz (cpuinfo); net_null size=%d, --no-huge, one core\n", cpu_model().c_str(), cpu_mhz(),
                size);

    for (int run = 0; run < runs; ++run) {
        std::ostringstream xml;
        xml << "<composition id=\"b\"><install><threadpool id=\"t\" num_threads=\"1\"><core number=\"0\"/></threadpool>"
            << "<block id=\"src\" type=\"DpdkSource\" threadpool=\"t\"><params><port vdev=\"net_null_b" << run
            << ",size=" << size << "\"/></params></block>"
            << "<block id=\"c\" type=\"PacketCounter\" invocation=\"direct\"/>"
            << "<connection src_block=\"src\" src_gate=\"source_out\" dst_block=\"c\" dst_gate=\"in_pkt\"/>"
            << "</install></composition>";
        auto e = weir::Engine::load_string(xml.str(), "dpdk_bench.xml");
        e->start();
        e->launch();
        std::this_thread::sleep_for(std::chrono::milliseconds(300));  // warm up
        const uint64_t p0 = read_u64(*e, "c", "pktcnt");
        const auto t0 = std::chrono::steady_clock::now();
        std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
        const uint64_t p1 = read_u64(*e, "c", "pktcnt");
        const double dt = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        e->request_stop();
        e->wait();
        std::printf("run %d: DpdkSource(net_null) -> PacketCounter: %.2f Mpps (%llu packets in %.2f s), "
                    "mbufs_in_use after stop %llu\n",
                    run + 1, static_cast<double>(p1 - p0) / dt / 1e6, static_cast<unsigned long long>(p1 - p0), dt,
                    static_cast<unsigned long long>(read_u64(*e, "src", "mbufs_in_use")));
    }

    // Floor: rte_eth_rx_burst(32) + rte_pktmbuf_free_bulk on the same device, no engine.
    weir::capture::DpdkConfig cfg;
    cfg.eal = eal;
    cfg.vdev = "net_null_floor,size=" + std::to_string(size);
    cfg.port = "net_null_floor";
    weir::capture::DpdkCapture cap(cfg);
    cap.open();
    rte_mbuf* m[32];
    for (int run = 0; run < runs; ++run) {
        uint64_t n = 0;
        const auto t0 = std::chrono::steady_clock::now();
        const auto end = t0 + std::chrono::duration<double>(seconds);
        while (std::chrono::steady_clock::now() < end) {
            for (int i = 0; i < 1024; ++i) {
                const uint16_t got = rte_eth_rx_burst(cap.port_id(), 0, m, 32);
                rte_pktmbuf_free_bulk(m, got);
                n += got;
            }
        }
        const double dt = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        std::printf("run %d: floor rx_burst(32) + free_bulk: %.2f Mpps\n", run + 1, static_cast<double>(n) / dt / 1e6);
    }
    return 0;
}
