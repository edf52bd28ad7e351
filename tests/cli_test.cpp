// The `engine` command as users run it: signals, exit codes, --stats, --check, --dot, --describe.
#include "test_util.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <thread>

extern char** environ;

namespace weir::testing {
namespace {

std::string temp_file(const std::string& name, const std::string& content) {
    const std::string path = ::testing::TempDir() + "/" + name;
    std::ofstream(path) << content;
    return path;
}

nlohmann::json read_json(const std::string& path) {
    std::ifstream in(path);
    return nlohmann::json::parse(in);
}

pid_t spawn(const std::vector<std::string>& args) {
    std::vector<char*> argv;
    for (const auto& a : args) {
        argv.push_back(const_cast<char*>(a.c_str()));
    }
    argv.push_back(nullptr);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, STDOUT_FILENO, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_addopen(&fa, STDERR_FILENO, "/dev/null", O_WRONLY, 0);
    pid_t pid = -1;
    EXPECT_EQ(posix_spawn(&pid, argv[0], &fa, nullptr, argv.data(), environ), 0);
    posix_spawn_file_actions_destroy(&fa);
    return pid;
}

// Exit status, or -1 if it did not exit within the timeout (then it is killed).
int wait_exit(pid_t pid, std::chrono::seconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    int st = 0;
    while (std::chrono::steady_clock::now() < deadline) {
        if (waitpid(pid, &st, WNOHANG) == pid) {
            return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    kill(pid, SIGKILL);
    waitpid(pid, &st, 0);
    return -1;
}

// netflix.pcap spans 90 s; replayed at recorded speed it is still running when the signal comes.
const char* kReplay =
    "<composition id=\"replay\"><general><clock type=\"packet\"/></general><install>\n"
    "<threadpool id=\"p\" num_threads=\"1\"/><threadpool id=\"q\" num_threads=\"1\"/>\n"
    "<block id=\"src\" type=\"PcapSource\" threadpool=\"p\"><params>"
    "<source name=\"${TRACE}\" replay=\"${SPEED:-1}\"/></params></block>\n"
    "<block id=\"ctr\" type=\"PacketCounter\" invocation=\"indirect\" threadpool=\"q\"/>\n"
    "<connection src_block=\"src\" src_gate=\"source_out\" dst_block=\"ctr\" dst_gate=\"in_pkt\"/>\n"
    "</install></composition>\n";

TEST(Cli, SigtermDrainsFlushesAndExitsZero) {
    for (int sig : {SIGTERM, SIGINT}) {
        const std::string xml = temp_file("replay.xml", kReplay);
        const std::string stats = ::testing::TempDir() + "/replay-stats.json";
        std::filesystem::remove(stats);
        const pid_t pid = spawn({engine_binary(), xml, "-q", "-D", "TRACE=" + pcap_dir() + "/netflix.pcap",
                                 "--stats", stats});
        std::this_thread::sleep_for(std::chrono::milliseconds(1500));
        ASSERT_EQ(kill(pid, sig), 0);
        EXPECT_EQ(wait_exit(pid, std::chrono::seconds(10)), 0) << "signal " << sig;
        const auto j = read_json(stats);
        const uint64_t read = j["blocks"]["src"]["variables"]["packets"];
        const uint64_t counted = j["blocks"]["ctr"]["variables"]["pktcnt"];
        EXPECT_GT(read, 0u);
        EXPECT_LT(read, 1793u) << "the replay should have been interrupted";
        EXPECT_EQ(counted, read) << "everything read must be drained to the counter";
        EXPECT_EQ(j["exit_code"], 0);
    }
}

TEST(Cli, RunsCountCompositionAndPrintsCounts) {
    const auto r = run_command(engine_binary() + " -q " + source_root() + "/compositions/count.xml");
    EXPECT_EQ(r.exit_code, 0);
    EXPECT_NE(r.out.find("counter (PacketCounter): pktcnt=1793 bytecnt=1006416"), std::string::npos) << r.out;
}

TEST(Cli, StatsAreWrittenAlsoOnError) {
    const std::string cut = ::testing::TempDir() + "/cli-cut.pcap";
    std::filesystem::copy_file(pcap_dir() + "/netflix.pcap", cut, std::filesystem::copy_options::overwrite_existing);
    std::filesystem::resize_file(cut, 300000);
    const std::string stats = ::testing::TempDir() + "/cut-stats.json";
    const auto r = run_command(engine_binary() + " -q " + source_root() + "/compositions/count.xml -D TRACE=" +
                                   cut + " --stats " + stats,
                               true);
    EXPECT_EQ(r.exit_code, 1);
    EXPECT_NE(r.out.find("truncated dump file"), std::string::npos) << r.out;
    const auto j = read_json(stats);
    EXPECT_EQ(j["exit_code"], 1);
    EXPECT_GT(j["blocks"]["counter"]["variables"]["pktcnt"].get<uint64_t>(), 0u);
    EXPECT_EQ(j["blocks"]["counter"]["variables"]["pktcnt"], j["blocks"]["src"]["variables"]["packets"]);
}

TEST(Cli, RefusedCompositionExitsOneWithFileAndLine) {
    const std::string bad = temp_file("bad.xml",
                                      "<composition id=\"b\">\n<install>\n"
                                      "<block id=\"c\" type=\"PacketCountr\"/>\n</install>\n</composition>\n");
    const std::string stats = ::testing::TempDir() + "/bad-stats.json";
    const auto r = run_command(engine_binary() + " --check " + bad, true);
    EXPECT_EQ(r.exit_code, 1);
    EXPECT_NE(r.out.find(bad + ":3: unknown block type 'PacketCountr'; did you mean 'PacketCounter'"),
              std::string::npos)
        << r.out;
    const auto r2 = run_command(engine_binary() + " " + bad + " --stats " + stats, true);
    EXPECT_EQ(r2.exit_code, 1);
    const auto j = read_json(stats);
    EXPECT_EQ(j["exit_code"], 1);
    EXPECT_NE(j["errors"][0].get<std::string>().find(":3: unknown block type"), std::string::npos);
}

TEST(Cli, CheckDotListDescribe) {
    const std::string comp = source_root() + "/compositions/count.xml";
    auto r = run_command(engine_binary() + " --check " + comp);
    EXPECT_EQ(r.exit_code, 0);
    EXPECT_NE(r.out.find("OK"), std::string::npos);
    r = run_command(engine_binary() + " --dot " + comp);
    EXPECT_EQ(r.exit_code, 0);
    EXPECT_EQ(r.out.rfind("digraph \"count\"", 0), 0u) << r.out;
    EXPECT_NE(r.out.find("cluster_pool_analysis"), std::string::npos);
    r = run_command(engine_binary() + " --list-blocks");
    for (const char* t : {"PcapSource", "PacketCounter", "Null"}) {
        EXPECT_NE(r.out.find(t), std::string::npos) << t;
    }
    r = run_command(engine_binary() + " --describe PktCounter");
    EXPECT_EQ(r.exit_code, 0);
    for (const char* s : {"PacketCounter", "in_pkt, in_counter  [PacketBatch]", "pktcnt  counter [packets] read",
                          "reset  control write", "rate.period  duration  default \"1s\""}) {
        EXPECT_NE(r.out.find(s), std::string::npos) << s << "\n" << r.out;
    }
    r = run_command(engine_binary() + " --describe PcapSorce", true);
    EXPECT_EQ(r.exit_code, 2);
    EXPECT_NE(r.out.find("did you mean 'PcapSource'"), std::string::npos) << r.out;
    r = run_command(engine_binary() + " " + comp + " -D NOEQUALS", true);
    EXPECT_EQ(r.exit_code, 2);
}

}  // namespace
}  // namespace weir::testing
