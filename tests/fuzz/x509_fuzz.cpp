// libFuzzer target: the server certificate walk (handshake messages, then DER down to the subject
// CN) never reads outside the input (ASan), and a CN it reports is bytes of the input.
#include <classify/x509.hpp>

#include <cstddef>
#include <cstdint>
#include <cstring>

using namespace weir::classify;

namespace {

bool inside(const uint8_t* data, size_t size, const FixedText<64>& cn) {
    return cn.empty() || memmem(data, size, cn.data, cn.len) != nullptr;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    FixedText<64> cn;
    if (server_certificate_cn(data, size, cn) == ParseStatus::kOk && !inside(data, size, cn)) {
        __builtin_trap();
    }
    if (certificate_subject_cn(data, size, cn) == ParseStatus::kOk && !inside(data, size, cn)) {
        __builtin_trap();
    }
    return 0;
}
