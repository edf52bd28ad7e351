// libFuzzer target: the composition loader (placeholders, XML, params) must refuse anything
// malformed with a LoadError and never crash, leak or read out of bounds.
//   CXX=clang++ meson setup build-fuzz -Dfuzz=true -Dtests=false -Dbench=false
//   ninja -C build-fuzz && build-fuzz/tests/fuzz/composition_fuzz -max_total_time=60 compositions/
#include <weir/engine.hpp>

#include <cstddef>
#include <cstdint>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const std::string_view xml(reinterpret_cast<const char*>(data), size);
    weir::LoadOptions opts;
    opts.use_environment = false;
    opts.defines = {{"TRACE", "x.pcap"}};
    try {
        auto engine = weir::Engine::load_string(xml, "fuzz.xml", opts);
        (void)engine->dot();
        (void)engine->stats_json();
    } catch (const weir::LoadError&) {
        // refused with a message: the expected outcome for most inputs
    }
    return 0;
}
