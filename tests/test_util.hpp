#pragma once

#include <weir/engine.hpp>

#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <vector>

namespace weir::testing {

// Folder of the real captures (tests/pcaps, copied from ../shared/pcaps with SOURCES.md).
std::string pcap_dir();
std::vector<std::string> pcap_files();
// A test name for a capture file (gtest allows only letters, digits and '_').
std::string capture_test_name(const ::testing::TestParamInfo<std::string>& info);
// The engine executable built beside the tests.
std::string engine_binary();
std::string source_root();

struct CommandResult {
    int exit_code = -1;
    std::string out;
};
// Runs a shell command, capturing stdout (stderr too when merge_stderr).
CommandResult run_command(const std::string& cmd, bool merge_stderr = false);

// Loads, starts, runs to completion; returns the engine for inspection.
std::unique_ptr<Engine> run_xml(const std::string& xml, const LoadOptions& opts = {});
uint64_t read_u64(const Engine& e, const std::string& block, const std::string& var);

// Splits on `sep`, keeping every field ("a,,b" -> a, "", b; "" -> one empty field).
std::vector<std::string> split_fields(const std::string& s, char sep);

// A buffer whose last byte sits right before an inaccessible page: a parser that reads one byte
// past what it was given crashes instead of passing.
class Fence {
public:
    static constexpr std::size_t kCapacity = 1 << 19;
    Fence();
    ~Fence();
    Fence(const Fence&) = delete;
    Fence& operator=(const Fence&) = delete;
    // Copies n bytes so that they end at the protected page.
    const uint8_t* place(const uint8_t* data, std::size_t n);

private:
    uint8_t* base_ = nullptr;
    std::size_t page_ = 0;
};
Fence& fence();

}  // namespace weir::testing
