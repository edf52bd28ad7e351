#include "test_util.hpp"

#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <array>
#include <cstdio>
#include <filesystem>
#include <sys/wait.h>

namespace weir::testing {

std::string source_root() { return WEIR_SOURCE_ROOT; }
std::string pcap_dir() { return source_root() + "/tests/pcaps"; }
std::string engine_binary() { return WEIR_ENGINE_BINARY; }

std::vector<std::string> pcap_files() {
    std::vector<std::string> out;
    for (const auto& e : std::filesystem::directory_iterator(pcap_dir())) {
        const auto ext = e.path().extension().string();
        if (ext == ".pcap" || ext == ".pcapng") {
            out.push_back(e.path().string());
        }
    }
    std::sort(out.begin(), out.end());
    return out;
}

std::string capture_test_name(const ::testing::TestParamInfo<std::string>& info) {
    std::string n = std::filesystem::path(info.param).filename().string();
    for (char& c : n) {
        if (std::isalnum(static_cast<unsigned char>(c)) == 0) {
            c = '_';
        }
    }
    return n;
}

CommandResult run_command(const std::string& cmd, bool merge_stderr) {
    CommandResult r;
    const std::string full = cmd + (merge_stderr ? " 2>&1" : " 2>/dev/null");
    FILE* p = popen(full.c_str(), "r");
    if (p == nullptr) {
        return r;
    }
    std::array<char, 4096> buf{};
    std::size_t n = 0;
    while ((n = fread(buf.data(), 1, buf.size(), p)) > 0) {
        r.out.append(buf.data(), n);
    }
    const int st = pclose(p);
    r.exit_code = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
    return r;
}

std::unique_ptr<Engine> run_xml(const std::string& xml, const LoadOptions& opts) {
    auto e = Engine::load_string(xml, "test.xml", opts);
    e->start();
    e->launch();
    e->wait();
    return e;
}

uint64_t read_u64(const Engine& e, const std::string& block, const std::string& var) {
    const auto v = e.read_variable(block, var);
    if (!v) {
        ADD_FAILURE() << "no variable " << block << "." << var;
        return 0;
    }
    if (const auto* u = std::get_if<uint64_t>(&*v)) {
        return *u;
    }
    ADD_FAILURE() << block << "." << var << " is not an unsigned counter";
    return 0;
}

std::vector<std::string> split_fields(const std::string& s, char sep) {
    std::vector<std::string> out;
    std::string cur;
    for (char c : s) {
        if (c == sep) {
            out.push_back(cur);
            cur.clear();
        } else {
            cur.push_back(c);
        }
    }
    out.push_back(cur);
    return out;
}

Fence::Fence() {
    page_ = static_cast<std::size_t>(sysconf(_SC_PAGESIZE));
    void* m = mmap(nullptr, kCapacity + page_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED) {
        std::abort();
    }
    base_ = static_cast<uint8_t*>(m);
    if (mprotect(base_ + kCapacity, page_, PROT_NONE) != 0) {
        std::abort();
    }
}

Fence::~Fence() { munmap(base_, kCapacity + page_); }

const uint8_t* Fence::place(const uint8_t* data, std::size_t n) {
    if (n > kCapacity) {
        std::abort();
    }
    uint8_t* dst = base_ + kCapacity - n;
    if (n != 0) {
        std::memcpy(dst, data, n);
    }
    return dst;
}

Fence& fence() {
    static Fence f;
    return f;
}

}  // namespace weir::testing
