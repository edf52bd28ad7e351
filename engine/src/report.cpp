// What the engine tells about itself: Graphviz, the --stats JSON.
#include "engine_impl.hpp"

#include <nlohmann/json.hpp>

#include <map>
#include <sstream>

namespace weir {

using detail::BlockState;

namespace {

std::string dot_escape(std::string_view s) {
    std::string out;
    for (char c : s) {
        if (c == '"' || c == '\\' || c == '{' || c == '}' || c == '|' || c == '<' || c == '>') {
            out += '\\';
        }
        out += c;
    }
    return out;
}

nlohmann::json to_json(const VarValue& v) {
    return std::visit([](const auto& x) { return nlohmann::json(x); }, v);
}

}  // namespace

std::string Engine::dot() const {
    const auto& im = *impl_;
    std::ostringstream os;
    os << "digraph \"" << dot_escape(im.composition_id) << "\" {\n"
       << "  rankdir=LR;\n  node [shape=record, fontname=\"Helvetica\", fontsize=10];\n"
       << "  edge [fontname=\"Helvetica\", fontsize=9];\n";
    const auto node = [&](const BlockState& b, const char* indent) {
        std::ostringstream ins;
        std::ostringstream outs;
        for (std::size_t i = 0; i < b.setup->inputs().size(); ++i) {
            ins << (i == 0 ? "" : "|") << "<i" << i << "> " << dot_escape(b.setup->inputs()[i].name);
        }
        for (std::size_t i = 0; i < b.setup->outputs().size(); ++i) {
            outs << (i == 0 ? "" : "|") << "<o" << i << "> " << dot_escape(b.setup->outputs()[i].name);
        }
        os << indent << "\"" << dot_escape(b.id) << "\" [label=\"{";
        if (!b.setup->inputs().empty()) {
            os << "{" << ins.str() << "}|";
        }
        os << dot_escape(b.id) << "\\n" << dot_escape(b.type) << " (" << to_string(b.invocation) << ")";
        if (!b.setup->outputs().empty()) {
            os << "|{" << outs.str() << "}";
        }
        os << "}\"];\n";
    };
    std::map<std::string, std::vector<const detail::Worker*>> by_pool;
    for (const auto& w : im.workers) {
        by_pool[w->pool].push_back(w.get());
    }
    for (const auto& p : im.pools) {
        os << "  subgraph \"cluster_pool_" << dot_escape(p.id) << "\" {\n"
           << "    label=\"threadpool " << dot_escape(p.id) << " (" << p.num_threads << " threads";
        if (!p.cores.empty()) {
            os << ", cores";
            for (int c : p.cores) {
                os << " " << c;
            }
        }
        os << ")\";\n    style=rounded;\n";
        for (const detail::Worker* w : by_pool[p.id]) {
            os << "    subgraph \"cluster_thread_" << dot_escape(p.id) << "_" << w->index << "\" {\n"
               << "      label=\"thread " << w->index
               << (w->core >= 0 ? ", core " + std::to_string(w->core) : std::string(", not pinned"))
               << "\";\n      style=dashed;\n";
            for (const BlockState* b : w->hosted) {
                node(*b, "      ");
            }
            os << "    }\n";
        }
        os << "  }\n";
    }
    for (const auto& b : im.blocks) {
        if (b->home == nullptr) {
            node(*b, "  ");
        }
    }
    for (const auto& l : im.links) {
        os << "  \"" << dot_escape(l->src->id) << "\":o" << l->src_gate << " -> \""
           << dot_escape(l->dst->id) << "\":i" << l->dst_gate << " [label=\""
           << dot_escape(l->src->setup->outputs()[l->src_gate].type->name);
        if (l->direct) {
            os << "\\ndirect call\"];\n";
        } else {
            os << "\\nring " << l->capacity << ", "
               << (l->policy == OverflowPolicy::kBlock ? "block" : "drop") << "\", style=dashed];\n";
        }
    }
    os << "}\n";
    return os.str();
}

std::string Engine::stats_json() const {
    nlohmann::json blocks = nlohmann::json::object();
    for (const auto& b : impl_->blocks) {
        nlohmann::json vars = nlohmann::json::object();
        for (const auto& v : b->setup->variables()) {
            if (v.read) {
                vars[v.name] = to_json(v.read());
            }
        }
        if (b->discarded.get() > 0) {
            vars["discarded_after_failure"] = b->discarded.get();
        }
        if (b->disabled_drops.get() > 0) {
            vars["disabled_drops"] = b->disabled_drops.get();
        }
        blocks[b->id] = {{"type", b->type}, {"variables", vars}};
    }
    nlohmann::json conns = nlohmann::json::array();
    for (const auto& c : connections()) {
        nlohmann::json j = {{"connection", c.label},
                            {"kind", c.direct ? "direct" : "ring"},
                            {"messages", c.messages}};
        if (!c.direct) {
            j["capacity"] = c.capacity;
            j["policy"] = c.policy == OverflowPolicy::kBlock ? "block" : "drop";
            j["dropped_messages"] = c.dropped_messages;
            j["dropped_packets"] = c.dropped_packets;
        }
        conns.push_back(j);
    }
    nlohmann::json out = {{"composition", impl_->composition_id},
                          {"blocks", blocks},
                          {"connections", conns},
                          {"errors", errors()},
                          {"exit_code", exit_code()}};
    return out.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
}

}  // namespace weir
