// Block types known to compositions. Each block's source file ends with one line:
//   WEIR_REGISTER_BLOCK(PacketCounter, "PacketCounter", weir::Invocation::kDirect | weir::Invocation::kIndirect,
//                       "Counts packets and bytes", {"PktCounter"});
#pragma once

#include <weir/block.hpp>

#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace weir {

struct BlockInfo {
    std::string type;
    std::vector<std::string> aliases;
    std::string summary;
    unsigned invocations = 0;  // bit set of Invocation
    std::function<std::unique_ptr<Block>(BlockSetup&)> make;

    bool allows(Invocation i) const { return (invocations & static_cast<unsigned>(i)) != 0; }
};

class BlockRegistry {
public:
    // Filled during static initialisation, read-only afterwards.
    static BlockRegistry& instance();

    bool add(BlockInfo info);
    const BlockInfo* find(std::string_view type_or_alias) const;
    const std::vector<BlockInfo>& all() const noexcept { return blocks_; }
    // The registered name closest to `name` (edit distance), for "did you mean" hints.
    std::string nearest(std::string_view name) const;

private:
    std::vector<BlockInfo> blocks_;
};

std::size_t edit_distance(std::string_view a, std::string_view b);

}  // namespace weir

#define WEIR_CONCAT_INNER(a, b) a##b
#define WEIR_CONCAT(a, b) WEIR_CONCAT_INNER(a, b)

#define WEIR_REGISTER_BLOCK(CLASS, NAME, INVOCATIONS, SUMMARY, ...)                         \
    namespace {                                                                             \
    [[maybe_unused]] const bool WEIR_CONCAT(weir_registered_, __LINE__) =                     \
        ::weir::BlockRegistry::instance().add(                                              \
        ::weir::BlockInfo{NAME, std::vector<std::string>{__VA_ARGS__}, SUMMARY,             \
                          static_cast<unsigned>(INVOCATIONS),                              \
                          [](::weir::BlockSetup& s) -> std::unique_ptr<::weir::Block> {     \
                              return std::make_unique<CLASS>(s);                            \
                          }});                                                              \
    }
