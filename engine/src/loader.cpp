// The composition loader: XML (Blockmon's schema plus optional extensions) to an installed graph.
// Every mistake is refused before anything starts, as "file:line: what, and what was expected".
#include "engine_impl.hpp"

#include <weir/packet.hpp>

#include <pugixml.hpp>
#include <sched.h>

#include <algorithm>
#include <charconv>
#include <cstdlib>
#include <functional>
#include <set>

namespace weir {

namespace {

class LineIndex {
public:
    explicit LineIndex(std::string_view text) {
        starts_.push_back(0);
        for (std::size_t i = 0; i < text.size(); ++i) {
            if (text[i] == '\n') {
                starts_.push_back(i + 1);
            }
        }
    }
    int line(std::ptrdiff_t offset) const {
        if (offset < 0) {
            return 0;
        }
        auto it = std::upper_bound(starts_.begin(), starts_.end(), static_cast<std::size_t>(offset));
        return static_cast<int>(it - starts_.begin());
    }
    int column(std::ptrdiff_t offset) const {
        const int l = line(offset);
        return l <= 0 ? 0 : static_cast<int>(offset - static_cast<std::ptrdiff_t>(starts_[l - 1])) + 1;
    }

private:
    std::vector<std::size_t> starts_;
};

std::string join(const std::vector<std::string>& v, const char* sep = ", ") {
    std::string out;
    for (const auto& s : v) {
        out += (out.empty() ? "" : sep) + s;
    }
    return out;
}

bool valid_name_char(char c) {
    return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '_';
}

}  // namespace

namespace {
std::string expand_from_line(std::string_view text, const std::string& name, const LoadOptions& opts,
                             int line);
}

std::string expand_placeholders(std::string_view text, const std::string& name,
                                const LoadOptions& opts) {
    return expand_from_line(text, name, opts, 1);
}

namespace {
std::string expand_from_line(std::string_view text, const std::string& name, const LoadOptions& opts,
                             int line) {
    std::string out;
    out.reserve(text.size());
    for (std::size_t i = 0; i < text.size();) {
        const char c = text[i];
        if (c == '\n') {
            ++line;
        }
        if (c == '$' && i + 1 < text.size() && text[i + 1] == '{') {
            // Find the matching '}', allowing ${A:-${B}} in defaults.
            std::size_t close = std::string_view::npos;
            int depth = 1;
            for (std::size_t j = i + 2; j < text.size(); ++j) {
                if (text[j] == '$' && j + 1 < text.size() && text[j + 1] == '{') {
                    ++depth;
                    ++j;
                } else if (text[j] == '}' && --depth == 0) {
                    close = j;
                    break;
                }
            }
            if (close == std::string_view::npos) {
                throw LoadError(name + ":" + std::to_string(line) +
                                ": unterminated placeholder '${', expected ${NAME} or ${NAME:-default}");
            }
            std::string_view body = text.substr(i + 2, close - i - 2);
            std::string_view var = body;
            std::optional<std::string_view> fallback;
            if (const auto sep = body.find(":-"); sep != std::string_view::npos) {
                var = body.substr(0, sep);
                fallback = body.substr(sep + 2);
            }
            if (var.empty() || !std::all_of(var.begin(), var.end(), valid_name_char)) {
                throw LoadError(name + ":" + std::to_string(line) + ": bad placeholder '${" +
                                std::string(body) +
                                "}', expected ${NAME} or ${NAME:-default} with NAME of letters, "
                                "digits and _");
            }
            const std::string key(var);
            if (auto it = opts.defines.find(key); it != opts.defines.end()) {
                out += it->second;
            } else if (const char* env = opts.use_environment ? std::getenv(key.c_str()) : nullptr;
                       env != nullptr) {
                out += env;
            } else if (fallback) {
                out += expand_from_line(*fallback, name, opts, line);
            } else {
                throw LoadError(name + ":" + std::to_string(line) + ": placeholder ${" + key +
                                "} is not set; pass -D " + key + "=value (or set it in the "
                                "environment, or write ${" + key + ":-default})");
            }
            for (char x : body) {
                line += x == '\n' ? 1 : 0;
            }
            i = close + 1;
            continue;
        }
        out += c;
        ++i;
    }
    return out;
}
}  // namespace

namespace detail {

namespace {

struct Loader {
    EngineImpl& impl;
    const std::string& name;
    LineIndex lines;

    int line_of(const pugi::xml_node& n) const { return lines.line(n.offset_debug()); }

    [[noreturn]] void fail(const pugi::xml_node& n, const std::string& what) const {
        throw LoadError(name + ":" + std::to_string(line_of(n)) + ": " + what);
    }
    [[noreturn]] void fail_line(int line, const std::string& what) const {
        throw LoadError(name + ":" + std::to_string(line) + ": " + what);
    }

    void check_attributes(const pugi::xml_node& n, const std::vector<std::string>& allowed) const {
        for (auto a : n.attributes()) {
            if (std::find(allowed.begin(), allowed.end(), a.name()) == allowed.end()) {
                fail(n, "<" + std::string(n.name()) + "> has no attribute '" + a.name() + "'; expected " +
                            (allowed.empty() ? std::string("no attributes") : join(allowed)));
            }
        }
    }

    std::string required_attr(const pugi::xml_node& n, const char* attr) const {
        auto a = n.attribute(attr);
        if (!a || std::string_view(a.value()).empty()) {
            fail(n, "<" + std::string(n.name()) + "> needs attribute '" + attr + "'");
        }
        return a.value();
    }

    long integer_attr(const pugi::xml_node& n, const char* attr, long min, long max) const {
        const std::string v = required_attr(n, attr);
        long x = 0;
        auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), x);
        if (ec != std::errc() || p != v.data() + v.size() || x < min || x > max) {
            fail(n, "<" + std::string(n.name()) + " " + attr + "=\"" + v +
                        "\">: expected an integer in " + std::to_string(min) + ".." +
                        std::to_string(max));
        }
        return x;
    }

    static std::set<int> usable_cores() {
        std::set<int> cores;
        cpu_set_t set;
        CPU_ZERO(&set);
        if (sched_getaffinity(0, sizeof set, &set) == 0) {
            for (int c = 0; c < CPU_SETSIZE; ++c) {
                if (CPU_ISSET(c, &set)) {
                    cores.insert(c);
                }
            }
        }
        return cores;
    }

    void flatten_params(const pugi::xml_node& n, const std::string& prefix, ParamInput& out) const {
        for (auto child : n.children()) {
            if (child.type() == pugi::node_pcdata || child.type() == pugi::node_cdata) {
                std::string text = child.value();
                const auto b = text.find_first_not_of(" \t\r\n");
                if (b != std::string::npos) {
                    if (prefix.empty()) {
                        fail(n, "text directly inside <params>; params are elements such as "
                                "<source name=\"…\"/>");
                    }
                    const auto e = text.find_last_not_of(" \t\r\n");
                    out.entries.push_back({prefix, text.substr(b, e - b + 1), line_of(n), false});
                }
                continue;
            }
            if (child.type() != pugi::node_element) {
                continue;
            }
            const std::string key = prefix.empty() ? child.name() : prefix + "." + child.name();
            for (auto a : child.attributes()) {
                out.entries.push_back({key + "." + a.name(), a.value(), line_of(child), false});
            }
            if (!child.first_attribute() && !child.first_child()) {
                // A bare flag such as Blockmon's <notimer/>: a param named after the element.
                out.entries.push_back({key, "", line_of(child), false});
            }
            flatten_params(child, key, out);
        }
    }

    void load_threadpool(const pugi::xml_node& n, const std::set<int>& cores) {
        check_attributes(n, {"id", "num_threads"});
        ThreadpoolSpec p;
        p.id = required_attr(n, "id");
        p.line = line_of(n);
        p.num_threads = n.attribute("num_threads")
                            ? static_cast<int>(integer_attr(n, "num_threads", 1, 1024))
                            : 1;
        for (const auto& q : impl.pools) {
            if (q.id == p.id) {
                fail(n, "duplicate threadpool id '" + p.id + "' (first on line " +
                            std::to_string(q.line) + ")");
            }
        }
        for (auto c : n.children()) {
            if (c.type() != pugi::node_element) {
                continue;
            }
            if (std::string_view(c.name()) != "core") {
                fail(c, "unexpected <" + std::string(c.name()) + "> in <threadpool>; expected <core number=\"N\"/>");
            }
            check_attributes(c, {"number"});
            const int core = static_cast<int>(integer_attr(c, "number", 0, CPU_SETSIZE - 1));
            if (cores.count(core) == 0) {
                std::vector<std::string> have;
                for (int x : cores) {
                    have.push_back(std::to_string(x));
                }
                fail(c, "core " + std::to_string(core) + " does not exist on this machine (usable cores: " +
                            join(have) + ")");
            }
            p.cores.push_back(core);
        }
        impl.pools.push_back(std::move(p));
    }

    void load_block(const pugi::xml_node& n) {
        check_attributes(n, {"id", "type", "invocation", "threadpool", "sched_type", "blocking_mode",
                             "sleep_usec", "thread_exclusive"});
        auto st = std::make_unique<BlockState>();
        st->engine = &impl;
        st->id = required_attr(n, "id");
        st->line = line_of(n);
        const std::string type = required_attr(n, "type");
        if (BlockState* other = impl.find(st->id)) {
            fail(n, "duplicate block id '" + st->id + "' (first on line " +
                        std::to_string(other->line) + ")");
        }
        st->info = BlockRegistry::instance().find(type);
        if (st->info == nullptr) {
            fail(n, "unknown block type '" + type + "'; did you mean '" +
                        BlockRegistry::instance().nearest(type) +
                        "'? (engine --list-blocks lists them all)");
        }
        st->type = st->info->type;

        std::string inv = n.attribute("invocation").value();
        if (inv.empty() && std::string_view(n.attribute("sched_type").value()) == "active") {
            inv = "indirect";  // Blockmon's legacy spelling
        }
        if (inv.empty()) {
            // Blockmon forces sources to async; do the same for blocks that can only be async.
            inv = st->info->invocations == static_cast<unsigned>(Invocation::kAsync) ? "async" : "direct";
        }
        if (inv == "direct") {
            st->invocation = Invocation::kDirect;
        } else if (inv == "indirect") {
            st->invocation = Invocation::kIndirect;
        } else if (inv == "async") {
            st->invocation = Invocation::kAsync;
        } else {
            fail(n, "block '" + st->id + "' has invocation=\"" + inv +
                        "\"; expected direct, indirect or async");
        }
        if (!st->info->allows(st->invocation)) {
            std::vector<std::string> ok;
            for (auto i : {Invocation::kDirect, Invocation::kIndirect, Invocation::kAsync}) {
                if (st->info->allows(i)) {
                    ok.emplace_back(to_string(i));
                }
            }
            fail(n, "block '" + st->id + "' (" + st->type + ") cannot run " + inv +
                        "; it supports " + join(ok, " or "));
        }
        st->pool = n.attribute("threadpool").value();
        if (st->invocation != Invocation::kDirect && st->pool.empty()) {
            fail(n, "block '" + st->id + "' is " + inv +
                        " and needs threadpool=\"…\" naming a <threadpool>");
        }
        if (!st->pool.empty()) {
            // A direct block runs in its feeder's thread; a pool named on it must still exist.
            const bool known = std::any_of(impl.pools.begin(), impl.pools.end(),
                                           [&](const auto& p) { return p.id == st->pool; });
            if (!known) {
                std::vector<std::string> ids;
                for (const auto& p : impl.pools) {
                    ids.push_back(p.id);
                }
                fail(n, "block '" + st->id + "' names threadpool '" + st->pool +
                            "', which is not declared (before the block); declared: " +
                            (ids.empty() ? std::string("none") : join(ids)));
            }
        }

        ParamInput params;
        params.line = st->line;
        for (auto c : n.children()) {
            if (c.type() != pugi::node_element) {
                continue;
            }
            if (std::string_view(c.name()) != "params") {
                fail(c, "unexpected <" + std::string(c.name()) + "> in <block>; expected <params>");
            }
            check_attributes(c, {});
            params.line = line_of(c);
            flatten_params(c, "", params);
        }
        try {
            st->setup = std::make_unique<BlockSetup>(st->id, st->type, std::move(params), false);
            st->block = st->info->make(*st->setup);
            st->setup->check_unused_params();
        } catch (const ParamError& e) {
            fail_line(e.line() > 0 ? e.line() : st->line, e.what());
        } catch (const LoadError&) {
            throw;
        } catch (const std::exception& e) {
            fail(n, "block '" + st->id + "' (" + st->type + "): " + e.what());
        }
        st->attach();
        st->outputs.resize(st->setup->outputs().size());

        // Blockmon's blocking_mode selects the overflow policy of this block's input queues.
        const std::string bm = n.attribute("blocking_mode").value();
        if (!bm.empty() && bm != "drop" && bm != "yield" && bm != "sleep" && bm != "mutex") {
            fail(n, "block '" + st->id + "' has blocking_mode=\"" + bm +
                        "\"; expected drop, yield, sleep or mutex");
        }
        if (!bm.empty()) {
            blocking_modes.emplace(st.get(), bm == "drop" ? OverflowPolicy::kDrop : OverflowPolicy::kBlock);
        }
        impl.blocks.push_back(std::move(st));
    }

    static std::optional<InputId> find_gate(const std::vector<GateSpec>& gates, std::string_view g) {
        for (std::size_t i = 0; i < gates.size(); ++i) {
            if (gates[i].name == g ||
                std::find(gates[i].aliases.begin(), gates[i].aliases.end(), g) != gates[i].aliases.end()) {
                return static_cast<InputId>(i);
            }
        }
        return std::nullopt;
    }

    static std::string gate_list(const std::vector<GateSpec>& gates) {
        std::vector<std::string> names;
        for (const auto& g : gates) {
            names.push_back(g.name + " (" + std::string(g.type->name) + ")");
        }
        return names.empty() ? std::string("none") : join(names);
    }

    struct PendingLink {
        Link* link;
        std::optional<OverflowPolicy> policy;
        std::optional<std::size_t> capacity;
    };

    void load_connection(const pugi::xml_node& n) {
        check_attributes(n, {"src_block", "src_gate", "dst_block", "dst_gate", "capacity", "policy"});
        const std::string sb = required_attr(n, "src_block");
        const std::string sg = required_attr(n, "src_gate");
        const std::string db = required_attr(n, "dst_block");
        const std::string dg = required_attr(n, "dst_gate");
        BlockState* src = impl.find(sb);
        if (src == nullptr) {
            fail(n, "connection from unknown block '" + sb + "'");
        }
        BlockState* dst = impl.find(db);
        if (dst == nullptr) {
            fail(n, "connection to unknown block '" + db + "'");
        }
        const auto so = find_gate(src->setup->outputs(), sg);
        if (!so) {
            fail(n, "block '" + sb + "' (" + src->type + ") has no output gate '" + sg +
                        "'; its output gates: " + gate_list(src->setup->outputs()));
        }
        const auto di = find_gate(dst->setup->inputs(), dg);
        if (!di) {
            fail(n, "block '" + db + "' (" + dst->type + ") has no input gate '" + dg +
                        "'; its input gates: " + gate_list(dst->setup->inputs()));
        }
        if (dst->invocation == Invocation::kAsync) {
            fail(n, "block '" + db + "' is async (it runs its own loop) and cannot take connections; "
                        "make it indirect");
        }
        const GateSpec& out = src->setup->outputs()[*so];
        const GateSpec& in = dst->setup->inputs()[*di];
        if (in.type != &kAnyMessage && in.type != out.type) {
            fail(n, "type mismatch: " + sb + "." + out.name + " sends " + std::string(out.type->name) +
                        " but " + db + "." + in.name + " takes " + std::string(in.type->name));
        }
        for (const auto& l : impl.links) {
            if (l->src == src && l->src_gate == *so && l->dst == dst && l->dst_gate == *di) {
                fail(n, "duplicate connection " + sb + "." + out.name + " -> " + db + "." + in.name +
                            " (first on line " + std::to_string(l->line) + ")");
            }
        }
        auto link = std::make_unique<Link>();
        link->src = src;
        link->src_gate = *so;
        link->dst = dst;
        link->dst_gate = *di;
        link->line = line_of(n);
        link->label = sb + "." + out.name + " -> " + db + "." + in.name;
        PendingLink p{link.get(), std::nullopt, std::nullopt};
        if (auto a = n.attribute("policy")) {
            const std::string v = a.value();
            if (v == "drop") {
                p.policy = OverflowPolicy::kDrop;
            } else if (v == "block") {
                p.policy = OverflowPolicy::kBlock;
            } else {
                fail(n, "connection has policy=\"" + v + "\"; expected drop or block");
            }
        }
        if (n.attribute("capacity")) {
            p.capacity = static_cast<std::size_t>(integer_attr(n, "capacity", 2, 1 << 24));
        }
        src->outputs[*so].push_back(link.get());
        dst->inputs.push_back(link.get());
        pending.push_back(p);
        impl.links.push_back(std::move(link));
    }

    // Whether every source upstream of `b` reads a finite input (a file).
    bool offline_upstream(BlockState* b, std::set<BlockState*>& seen) {
        if (!seen.insert(b).second) {
            return true;
        }
        if (b->inputs.empty()) {
            return b->block->offline();
        }
        return std::all_of(b->inputs.begin(), b->inputs.end(),
                           [&](Link* l) { return offline_upstream(l->src, seen); });
    }

    void check_acyclic() {
        std::map<BlockState*, int> state;  // 0 new, 1 on stack, 2 done
        std::function<void(BlockState*)> visit = [&](BlockState* b) {
            state[b] = 1;
            for (const auto& gate : b->outputs) {
                for (Link* l : gate) {
                    if (state[l->dst] == 1) {
                        fail_line(l->line, "connection " + l->label +
                                               " closes a cycle; compositions must be acyclic");
                    }
                    if (state[l->dst] == 0) {
                        visit(l->dst);
                    }
                }
            }
            state[b] = 2;
        };
        for (auto& b : impl.blocks) {
            if (state[b.get()] == 0) {
                visit(b.get());
            }
        }
    }

    // <replicate count="N" cores="LIST">: the threadpools, blocks and connections inside are
    // installed N times. In replica i, ids declared inside get the suffix ".i" (and references
    // to them follow), "{i}" in any attribute becomes i and "{core}" the i-th core of LIST
    // (e.g. "1-4" or "1,3,5,7"). Blocks and pools outside keep their ids, so a demux outside
    // can feed "out_{i}" to each replica and a writer outside can gather them.
    void load_replicate(const pugi::xml_node& n, const std::set<int>& cores) {
        check_attributes(n, {"count", "cores"});
        const long count = integer_attr(n, "count", 1, 1024);
        std::vector<int> core_list;
        if (auto a = n.attribute("cores")) {
            core_list = parse_core_list(n, a.value());
            if (static_cast<long>(core_list.size()) < count) {
                fail(n, "<replicate count=\"" + std::to_string(count) + "\"> lists " +
                            std::to_string(core_list.size()) + " cores in cores=\"" + a.value() +
                            "\"; expected one per replica");
            }
        }
        std::set<std::string> inner;
        struct Template {
            pugi::xml_node node;
            pugi::xml_attribute attr;
            std::string text;
        };
        std::vector<Template> templates;
        for (auto c : n.children()) {
            if (c.type() != pugi::node_element) {
                continue;
            }
            const std::string_view what = c.name();
            if (what != "threadpool" && what != "block" && what != "connection") {
                fail(c, "unexpected <" + std::string(what) +
                            "> in <replicate>; expected <threadpool>, <block> or <connection>");
            }
            if (what != "connection" && c.attribute("id")) {
                inner.insert(c.attribute("id").value());
            }
        }
        const std::function<void(pugi::xml_node)> collect = [&](pugi::xml_node x) {
            for (auto a : x.attributes()) {
                templates.push_back({x, a, a.value()});
            }
            for (auto c : x.children()) {
                if (c.type() == pugi::node_element) {
                    collect(c);
                }
            }
        };
        for (auto c : n.children()) {
            if (c.type() == pugi::node_element) {
                collect(c);
            }
        }
        for (long i = 0; i < count; ++i) {
            const std::string index = std::to_string(i);
            for (auto& [node, attr, text] : templates) {
                std::string v = text;
                for (std::size_t at; (at = v.find("{i}")) != std::string::npos;) {
                    v.replace(at, 3, index);
                }
                for (std::size_t at; (at = v.find("{core}")) != std::string::npos;) {
                    if (core_list.empty()) {
                        fail(node, "{core} used inside a <replicate> without cores=\"…\"");
                    }
                    v.replace(at, 6, std::to_string(core_list[static_cast<std::size_t>(i)]));
                }
                const std::string_view an = attr.name();
                const std::string_view parent = node.name();
                const bool declares = an == "id" && (parent == "block" || parent == "threadpool");
                const bool refers = an == "src_block" || an == "dst_block" || (an == "threadpool" && parent == "block");
                if ((declares || refers) && inner.count(text) != 0) {
                    v += "." + index;
                }
                attr.set_value(v.c_str());
            }
            for (auto c : n.children()) {
                if (c.type() != pugi::node_element) {
                    continue;
                }
                const std::string_view what = c.name();
                if (what == "threadpool") {
                    load_threadpool(c, cores);
                } else if (what == "block") {
                    load_block(c);
                } else {
                    load_connection(c);
                }
            }
        }
        for (auto& t : templates) {
            t.attr.set_value(t.text.c_str());
        }
    }

    std::vector<int> parse_core_list(const pugi::xml_node& n, std::string_view text) const {
        std::vector<int> out;
        std::size_t pos = 0;
        while (pos <= text.size()) {
            const std::size_t comma = std::min(text.find(',', pos), text.size());
            const std::string_view item = text.substr(pos, comma - pos);
            const std::size_t dash = item.find('-');
            int lo = -1;
            int hi = -1;
            const auto num = [](std::string_view t, int& v) {
                auto [p, ec] = std::from_chars(t.data(), t.data() + t.size(), v);
                return ec == std::errc() && p == t.data() + t.size() && v >= 0 && v < CPU_SETSIZE;
            };
            const bool ok = dash == std::string_view::npos
                                ? num(item, lo) && num(item, hi)
                                : num(item.substr(0, dash), lo) && num(item.substr(dash + 1), hi) && lo <= hi;
            if (!ok) {
                fail(n, "<replicate cores=\"" + std::string(text) +
                            "\">: expected core numbers and ranges, e.g. 1-4 or 1,3,5");
            }
            for (int c = lo; c <= hi; ++c) {
                out.push_back(c);
            }
            pos = comma + 1;
        }
        return out;
    }

    std::map<BlockState*, OverflowPolicy> blocking_modes;
    std::vector<PendingLink> pending;
};

}  // namespace

void load_composition(EngineImpl& impl, std::string_view xml_in, const std::string& name,
                      const LoadOptions& opts) {
    impl.file = name;
    const std::string xml = expand_placeholders(xml_in, name, opts);
    Loader ld{impl, name, LineIndex(xml), {}, {}};
    pugi::xml_document doc;
    const auto res = doc.load_buffer(xml.data(), xml.size(), pugi::parse_default);
    if (!res) {
        throw LoadError(name + ":" + std::to_string(ld.lines.line(res.offset)) + ":" +
                        std::to_string(ld.lines.column(res.offset)) + ": malformed XML: " +
                        res.description());
    }
    const pugi::xml_node root = doc.document_element();
    if (std::string_view(root.name()) != "composition") {
        ld.fail(root, "the document element is <" + std::string(root.name()) +
                          ">; expected <composition id=\"…\">");
    }
    ld.check_attributes(root, {"id", "app_id"});
    impl.composition_id = root.attribute("id").value();

    const std::set<int> cores = Loader::usable_cores();
    bool have_install = false;
    for (auto section : root.children()) {
        if (section.type() != pugi::node_element) {
            continue;
        }
        const std::string_view sname = section.name();
        if (sname == "general" || sname == "install") {
            ld.check_attributes(section, {});
        }
        if (sname == "general") {
            for (auto g : section.children()) {
                if (g.type() != pugi::node_element) {
                    continue;
                }
                if (std::string_view(g.name()) != "clock") {
                    ld.fail(g, "unexpected <" + std::string(g.name()) +
                                   "> in <general>; expected <clock type=\"wall|packet\"/>");
                }
                ld.check_attributes(g, {"type"});
                const std::string t = ld.required_attr(g, "type");
                if (t == "wall") {
                    impl.clock = ClockType::kWall;
                } else if (t == "packet") {
                    impl.clock = ClockType::kPacket;
                } else {
                    ld.fail(g, "<clock type=\"" + t + "\">: expected wall or packet");
                }
            }
        } else if (sname == "install") {
            have_install = true;
            for (auto n : section.children()) {
                if (n.type() != pugi::node_element) {
                    continue;
                }
                const std::string_view what = n.name();
                if (what == "threadpool") {
                    ld.load_threadpool(n, cores);
                } else if (what == "block") {
                    ld.load_block(n);
                } else if (what == "connection") {
                    ld.load_connection(n);
                } else if (what == "replicate") {
                    ld.load_replicate(n, cores);
                } else {
                    ld.fail(n, "unexpected <" + std::string(what) +
                                   "> in <install>; expected <threadpool>, <block>, <connection> or <replicate>");
                }
            }
        } else {
            ld.fail(section, "unexpected <" + std::string(sname) +
                                 "> in <composition>; expected <general> or <install>");
        }
    }
    if (!have_install) {
        ld.fail(root, "<composition> has no <install> section");
    }
    if (impl.blocks.empty()) {
        ld.fail(root, "the composition installs no blocks");
    }

    // Required inputs must be connected.
    for (const auto& b : impl.blocks) {
        const auto& ins = b->setup->inputs();
        for (std::size_t g = 0; g < ins.size(); ++g) {
            const bool connected = std::any_of(b->inputs.begin(), b->inputs.end(),
                                               [&](Link* l) { return l->dst_gate == g; });
            if (ins[g].required && !connected) {
                ld.fail_line(b->line, "input gate '" + ins[g].name + "' of block '" + b->id + "' (" +
                                          b->type + ") is not connected; it needs " +
                                          std::string(ins[g].type->name) + " messages");
            }
        }
    }
    ld.check_acyclic();

    // Overflow policy: connection attribute, else the consumer's Blockmon blocking_mode, else
    // lossless when everything upstream reads a file and dropping (counted) for live capture.
    for (auto& p : ld.pending) {
        Link& l = *p.link;
        if (p.policy) {
            l.policy = *p.policy;
        } else if (auto it = ld.blocking_modes.find(l.dst); it != ld.blocking_modes.end()) {
            l.policy = it->second;
        } else {
            std::set<BlockState*> seen;
            l.policy = ld.offline_upstream(l.src, seen) ? OverflowPolicy::kBlock : OverflowPolicy::kDrop;
        }
        l.capacity = p.capacity.value_or(64);  // small enough for recycled batches to stay in cache
    }
    plan_threads(impl);
}

}  // namespace detail
}  // namespace weir
