// libFuzzer target: TLS hello parsers and the record scanner never read outside the input
// (libFuzzer hands over an exactly sized buffer; ASan), never trip UBSan, and keep their results
// consistent. The first input byte picks what the rest is.
//   CXX=clang++ meson setup build-fuzz -Dfuzz=true -Dtests=false -Dbench=false
//   ninja -C build-fuzz && build-fuzz/tests/fuzz/tls_fuzz -max_total_time=60 corpus/
#include <classify/tls.hpp>

#include <cstddef>
#include <cstdint>
#include <memory>

using namespace weir::classify;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size == 0) {
        return 0;
    }
    const uint8_t mode = data[0];
    const uint8_t* p = data + 1;
    const size_t n = size - 1;
    static auto hello = std::make_unique<TlsClientHello>();
    static auto server = std::make_unique<TlsServerHello>();
    static auto buf = std::make_unique<uint8_t[]>(1 << 16);
    const uint8_t* hs = p;
    size_t hs_len = n;
    if ((mode & 4) != 0) {  // through the record layer, into a smaller or larger buffer
        const size_t cap = (mode & 8) != 0 ? 512 : (size_t{1} << 16);
        const TlsRecordScan s = tls_handshake_from_records(p, n, buf.get(), cap);
        if (s.handshake_len > cap || s.complete_len > s.handshake_len || s.consumed > n) {
            __builtin_trap();
        }
        hs = buf.get();
        hs_len = s.handshake_len;
    }
    if ((mode & 1) == 0) {
        const auto transport = static_cast<TlsTransport>((mode >> 1) % 3);
        const ParseStatus st = parse_client_hello(hs, hs_len, *hello, transport);
        if (st == ParseStatus::kOk && (hello->ja3.len != 32 || hello->ja4.len != 36)) {
            __builtin_trap();
        }
        if (st != ParseStatus::kOk && (!hello->ja3.empty() || !hello->ja4.empty())) {
            __builtin_trap();
        }
        if (hello->sni.len > 255 || hello->session_id_len > 32) {
            __builtin_trap();
        }
    } else {
        const ParseStatus st = parse_server_hello(hs, hs_len, *server);
        if ((st == ParseStatus::kOk) != (server->ja3s.len == 32)) {
            __builtin_trap();
        }
    }
    (void)looks_like_tls_record(p, n);
    return 0;
}
