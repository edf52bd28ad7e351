// Messages: what travels through gates.
//
// A message is any type derived from weir::Message and named with WEIR_MESSAGE_TYPE, so gates can
// be type-checked when a composition loads. Messages are reference counted by hand (no
// shared_ptr control block, no allocation per send): the producer creates one with one reference,
// every ring or fan-out branch that keeps it adds one, and the last release hands the message back
// to its owner through `recycle` (a pool, a capture backend, or plain delete).
#pragma once

#include <atomic>
#include <cstdint>
#include <string_view>

namespace weir {

// Identity of a message type. One static instance per type; gates compare pointers.
struct MessageType {
    std::string_view name;
    std::string_view doc;
};

// Gate type that accepts any message (e.g. the Null sink).
inline constexpr MessageType kAnyMessage{"any", "accepts every message type"};

template <class T>
struct MessageTraits;  // specialised by WEIR_MESSAGE_TYPE

class Message {
public:
    using RecycleFn = void (*)(Message*) noexcept;

    Message(const MessageType* type, RecycleFn recycle) noexcept : type_(type), recycle_(recycle) {}
    Message(const Message&) = delete;
    Message& operator=(const Message&) = delete;

    const MessageType* type() const noexcept { return type_; }

    // Newest timestamp (ns since the epoch) of what the message carries; drives the packet clock.
    int64_t time_ns() const noexcept { return time_ns_; }
    void set_time_ns(int64_t t) noexcept { time_ns_ = t; }

    void retain(uint32_t n = 1) const noexcept { refs_.fetch_add(n, std::memory_order_relaxed); }

    // Drops one reference; the last one returns the message to its owner.
    void release() const noexcept {
        if (refs_.fetch_sub(1, std::memory_order_acq_rel) == 1) {
            auto* self = const_cast<Message*>(this);
            self->recycle_(self);
        }
    }

    // For pools: a recycled message starts again with a single reference.
    void reset_refs() noexcept { refs_.store(1, std::memory_order_relaxed); }
    uint32_t refs() const noexcept { return refs_.load(std::memory_order_relaxed); }

    template <class T>
    const T* as() const noexcept {
        return type_ == &MessageTraits<T>::type ? static_cast<const T*>(this) : nullptr;
    }

protected:
    ~Message() = default;

private:
    const MessageType* type_;
    RecycleFn recycle_;
    mutable std::atomic<uint32_t> refs_{1};
    int64_t time_ns_ = 0;
};

// Holds one reference; used where a message must outlive a call (rings, tests).
class MessageRef {
public:
    MessageRef() = default;
    // Adopts a reference the caller already owns.
    static MessageRef adopt(const Message* m) noexcept {
        MessageRef r;
        r.m_ = m;
        return r;
    }
    MessageRef(MessageRef&& o) noexcept : m_(o.m_) { o.m_ = nullptr; }
    MessageRef& operator=(MessageRef&& o) noexcept {
        if (this != &o) {
            reset();
            m_ = o.m_;
            o.m_ = nullptr;
        }
        return *this;
    }
    MessageRef(const MessageRef&) = delete;
    MessageRef& operator=(const MessageRef&) = delete;
    ~MessageRef() { reset(); }

    void reset() noexcept {
        if (m_ != nullptr) {
            m_->release();
            m_ = nullptr;
        }
    }
    const Message* get() const noexcept { return m_; }
    const Message* operator->() const noexcept { return m_; }
    explicit operator bool() const noexcept { return m_ != nullptr; }

private:
    const Message* m_ = nullptr;
};

}  // namespace weir

// Names a message type for gate checking: WEIR_MESSAGE_TYPE(weir::PacketBatch, "PacketBatch", "doc").
// Must appear at global scope, in the header that defines the type.
#define WEIR_MESSAGE_TYPE(T, NAME, DOC)                                  \
    template <>                                                          \
    struct weir::MessageTraits<T> {                                      \
        static constexpr weir::MessageType type{NAME, DOC};              \
    }
