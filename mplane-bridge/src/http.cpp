#include <weir/mplane/http.hpp>

#include <httplib.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <algorithm>
#include <chrono>
#include <map>
#include <vector>
#include <stdexcept>

namespace weir::mplane {

namespace {

std::string openssl_error() {
    std::string out;
    while (const unsigned long e = ERR_get_error()) {
        char buf[256];
        ERR_error_string_n(e, buf, sizeof buf);
        out += out.empty() ? "" : "; ";
        out += buf;
    }
    return out.empty() ? "unknown OpenSSL error" : out;
}

// The peer certificate's subject DN, the values of its fields joined by '.' (the RI's identity).
std::string identity_of(const httplib::Request& req) {
    if (req.ssl == nullptr) {
        return std::string(kUnauthenticated);
    }
    X509* cert = SSL_get1_peer_certificate(req.ssl);
    if (cert == nullptr) {
        return {};  // cannot happen: the handshake requires a certificate
    }
    std::string id;
    const X509_NAME* name = X509_get_subject_name(cert);
    for (int i = 0; i < X509_NAME_entry_count(name); ++i) {
        const ASN1_STRING* data = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, i));
        unsigned char* utf8 = nullptr;
        const int len = ASN1_STRING_to_UTF8(&utf8, data);
        if (len >= 0) {
            id += id.empty() ? "" : ".";
            id.append(reinterpret_cast<const char*>(utf8), static_cast<std::size_t>(len));
            OPENSSL_free(utf8);
        }
    }
    X509_free(cert);
    return id;
}

void send(httplib::Response& res, const Message& m, const Registry& reg, int status) {
    res.status = status;
    res.set_content(serialize(m, reg), std::string(kContentType));
}

void send_exception(httplib::Response& res, const std::string& text, int status) {
    // No registry needed for an exception's two strings.
    const nlohmann::json j = {{"exception", ""}, {"message", text}};
    res.status = status;
    res.set_content(j.dump(2, ' ', false, nlohmann::json::error_handler_t::replace), std::string(kContentType));
}

}  // namespace

Listener::Listener(ServiceRef service, const std::string& host, int port, const TlsFiles& tls, int threads)
    : service_(std::move(service)) {
    if (tls.enabled()) {
        std::string error;
        auto server = std::make_unique<httplib::SSLServer>([&](SSL_CTX& ctx) {
            SSL_CTX_set_min_proto_version(&ctx, TLS1_2_VERSION);
            if (SSL_CTX_use_certificate_chain_file(&ctx, tls.cert.c_str()) != 1) {
                error = "cannot load certificate '" + tls.cert + "': " + openssl_error();
                return false;
            }
            if (SSL_CTX_use_PrivateKey_file(&ctx, tls.key.c_str(), SSL_FILETYPE_PEM) != 1 ||
                SSL_CTX_check_private_key(&ctx) != 1) {
                error = "cannot load private key '" + tls.key + "' (or it does not match the certificate): " +
                        openssl_error();
                return false;
            }
            if (tls.ca.empty() || SSL_CTX_load_verify_locations(&ctx, tls.ca.c_str(), nullptr) != 1) {
                error = "cannot load CA certificates '" + tls.ca + "': " + openssl_error();
                return false;
            }
            // Mutual authentication: no client certificate, no handshake.
            SSL_CTX_set_verify(&ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, nullptr);
            return true;
        });
        if (!server->is_valid()) {
            throw std::runtime_error(error.empty() ? "cannot set up TLS: " + openssl_error() : error);
        }
        server_ = std::move(server);
    } else {
        server_ = std::make_unique<httplib::Server>();
    }
    const auto n = static_cast<std::size_t>(threads > 0 ? threads : 1);
    server_->new_task_queue = [n] { return new httplib::ThreadPool(n); };
    server_->set_read_timeout(5, 0);
    server_->set_keep_alive_timeout(2);  // an idle client does not hold a worker thread long
    server_->set_tcp_nodelay(true);      // headers and body go out as written, no 40 ms Nagle wait
    server_->set_payload_max_length(4 << 20);
    routes();
    if (port == 0) {
        port_ = server_->bind_to_any_port(host);
        if (port_ <= 0) {
            throw std::runtime_error("cannot listen on " + host + " (any port)");
        }
    } else {
        if (!server_->bind_to_port(host, port)) {
            throw std::runtime_error("cannot listen on " + host + ":" + std::to_string(port) +
                                     " (in use, or not an address of this machine)");
        }
        port_ = port;
    }
    thread_ = std::thread([this] { server_->listen_after_bind(); });
}

Listener::~Listener() { stop(); }

void Listener::stop() {
    if (thread_.joinable()) {
        server_->stop();
        thread_.join();
    }
}

void Listener::routes() {
    server_->Get(".*", [this](const httplib::Request& req, httplib::Response& res) {
        requests.fetch_add(1, std::memory_order_relaxed);
        Service* svc = service_();
        if (svc == nullptr) {
            send_exception(res, "the composition is not running yet", 503);
            return;
        }
        const std::string who = identity_of(req);
        const Registry& reg = svc->registry();
        if (req.path == "/capability" || req.path == "/capabilities") {
            Message env;
            env.kind = Kind::kEnvelope;
            env.verb = "message";
            for (auto& c : svc->capabilities(who)) {
                env.contents.push_back(std::move(c));
            }
            send(res, env, reg, 200);
        } else if (req.path.rfind("/capability/", 0) == 0) {
            const std::string token = req.path.substr(12);
            if (const Message* cap = svc->capability_by_token(token, who)) {
                send(res, *cap, reg, 200);
            } else {
                send(res, make_exception(token, "no capability with token '" + token + "'"), reg, 404);
            }
        } else if (req.path == "/") {
            std::string html = "<html><body><h1>mPlane capabilities</h1><ul>\n";
            for (const auto& c : svc->capabilities(who)) {
                html += "<li><a href='/capability/" + c.token + "'>" + c.label + "</a></li>\n";
            }
            html += "</ul></body></html>\n";
            res.set_content(html, "text/html");
        } else {
            send_exception(res, "no such path '" + req.path + "'; capabilities are at /capability", 404);
        }
    });
    server_->Post(".*", [this](const httplib::Request& req, httplib::Response& res) {
        requests.fetch_add(1, std::memory_order_relaxed);
        Service* svc = service_();
        if (svc == nullptr) {
            send_exception(res, "the composition is not running yet", 503);
            return;
        }
        // The RI client sends redemptions and interrupts to its default URL, which is the URL it
        // fetched the capabilities from unless configured otherwise: accept them there too.
        if (req.path != "/" && req.path != "/specification" && req.path != "/capability" &&
            req.path != "/capabilities") {
            send_exception(res, "no such path '" + req.path + "'; post specifications to /", 404);
            return;
        }
        if (req.get_header_value("Content-Type") != kContentType) {
            send_exception(res, "Content-Type must be " + std::string(kContentType) + ", not '" +
                                    req.get_header_value("Content-Type") + "'", 415);
            return;
        }
        const Reply r = svc->handle_text(req.body, identity_of(req));
        send(res, r.message, svc->registry(), r.status);
    });
}

// --- component-initiated -------------------------------------------------------------------------

Initiator::Initiator(ServiceRef service, InitiatorConfig cfg) : service_(std::move(service)), cfg_(std::move(cfg)) {
    if (cfg_.url.rfind("http://", 0) != 0 && cfg_.url.rfind("https://", 0) != 0) {
        throw std::runtime_error("supervisor URL '" + cfg_.url + "' must start with http:// or https://");
    }
    if (cfg_.url.rfind("https://", 0) == 0 && !cfg_.tls.enabled()) {
        throw std::runtime_error("supervisor URL '" + cfg_.url + "' is https: give tls.cert, tls.key and tls.ca");
    }
    thread_ = std::thread([this] { loop(); });
}

Initiator::~Initiator() { stop(); }

void Initiator::stop() {
    {
        std::lock_guard<std::mutex> g(mu_);
        quit_ = true;
    }
    cv_.notify_all();
    if (thread_.joinable()) {
        thread_.join();
    }
}

void Initiator::loop() {
    const bool tls = cfg_.url.rfind("https://", 0) == 0;
    std::unique_ptr<httplib::Client> cli =
        tls ? std::make_unique<httplib::Client>(cfg_.url, cfg_.tls.cert, cfg_.tls.key)
            : std::make_unique<httplib::Client>(cfg_.url);
    if (tls) {
        cli->set_ca_cert_path(cfg_.tls.ca);
        cli->enable_server_certificate_verification(true);
    }
    cli->set_tcp_nodelay(true);
    cli->set_connection_timeout(2, 0);
    cli->set_read_timeout(5, 0);
    const std::string type(kContentType);
    bool registered = false;
    std::vector<std::string> outstanding;  // receipt tokens whose results are still to post
    const auto post = [&](const Message& m, const Registry& reg) {
        auto res = cli->Post(cfg_.result_path, serialize(m, reg), type);
        if (res && res->status == 200) {
            posted.fetch_add(1, std::memory_order_relaxed);
        } else {
            errors.fetch_add(1, std::memory_order_relaxed);
        }
    };
    std::unique_lock<std::mutex> lk(mu_);
    while (!quit_) {
        lk.unlock();
        if (Service* svc = service_()) {
            const Registry& reg = svc->registry();
            // The supervisor authenticated by the CA relays its clients' specifications and
            // authorises them itself (as the RI supervisor does): the policy is not applied here.
            const std::string who = "supervisor";
            if (!registered) {
                Message env;
                env.kind = Kind::kEnvelope;
                env.verb = "message";
                env.contents = svc->capabilities("");
                Message callback;
                callback.kind = Kind::kCapability;
                callback.label = "callback";
                callback.when = When::parse("now ... future");
                env.contents.push_back(callback);
                auto res = cli->Post(cfg_.registration_path, serialize(env, reg), type);
                registered = res && res->status == 200;
                (registered ? registrations : errors).fetch_add(1, std::memory_order_relaxed);
            }
            if (registered) {
                auto res = cli->Get(cfg_.specification_path);
                polls.fetch_add(1, std::memory_order_relaxed);
                if (res && res->status == 428) {
                    registered = false;
                } else if (res && res->status == 200 && !res->body.empty()) {
                    try {
                        const Message in = parse_message(res->body, reg);
                        std::vector<Message> msgs = in.kind == Kind::kEnvelope ? in.contents : std::vector<Message>{in};
                        for (const Message& m : msgs) {
                            if (m.label == "callback") {
                                continue;  // the supervisor's poll hint; we poll at our own period
                            }
                            const Reply r = svc->handle(m, who);
                            post(r.message, reg);
                            if (r.message.kind == Kind::kReceipt) {
                                outstanding.push_back(r.message.token);
                            } else {  // answered (an interrupt's result): nothing left to redeem
                                std::erase(outstanding, r.message.token);
                            }
                        }
                    } catch (const ProtocolError& e) {
                        errors.fetch_add(1, std::memory_order_relaxed);
                        post(make_exception("", std::string("bad specification from the supervisor: ") + e.what()), reg);
                    }
                } else if (!res || res->status != 200) {
                    errors.fetch_add(1, std::memory_order_relaxed);
                }
            }
            for (auto it = outstanding.begin(); it != outstanding.end();) {
                Message redemption;
                redemption.kind = Kind::kRedemption;
                redemption.token = *it;
                redemption.token_only = true;
                const Reply r = svc->handle(redemption, who);
                if (r.message.kind == Kind::kReceipt || !r.final) {  // posted once complete, as the RI does
                    ++it;
                    continue;
                }
                post(r.message, reg);  // the result, or an exception if the job went away
                it = outstanding.erase(it);
            }
        }
        lk.lock();
        cv_.wait_for(lk, std::chrono::nanoseconds(cfg_.poll_ns), [this] { return quit_; });
    }
    lk.unlock();
    // Leaving: withdraw what we registered, so the supervisor stops offering it. An envelope to the
    // registration path, where the RI's listener client takes capability changes (RegistrationHandler
    // hands each message to handle_message, which drops the withdrawn capabilities).
    Service* svc = service_();
    if (registered && svc != nullptr) {
        Message env;
        env.kind = Kind::kEnvelope;
        env.verb = "message";
        env.contents = svc->capabilities("");
        for (Message& c : env.contents) {
            c.kind = Kind::kWithdrawal;
        }
        cli->set_connection_timeout(1, 0);
        cli->set_read_timeout(2, 0);
        auto res = cli->Post(cfg_.registration_path, serialize(env, svc->registry()), type);
        (res && res->status == 200 ? withdrawals : errors).fetch_add(1, std::memory_order_relaxed);
    }
}

// --- indirect export -------------------------------------------------------------------------------

Exporter::Exporter(TlsFiles tls, std::size_t max_queue) : tls_(std::move(tls)), max_queue_(max_queue) {
    thread_ = std::thread([this] { loop(); });
}

Exporter::~Exporter() { stop(); }

void Exporter::post(std::string url, std::string body) {
    {
        std::lock_guard<std::mutex> g(mu_);
        if (quit_ || queue_.size() >= max_queue_) {
            dropped.fetch_add(1, std::memory_order_relaxed);
            return;
        }
        queue_.emplace_back(std::move(url), std::move(body));
    }
    cv_.notify_one();
}

void Exporter::stop() {
    {
        std::lock_guard<std::mutex> g(mu_);
        quit_ = true;
        dropped.fetch_add(queue_.size(), std::memory_order_relaxed);
        queue_.clear();
    }
    cv_.notify_all();
    if (thread_.joinable()) {
        thread_.join();
    }
}

void Exporter::loop() {
    std::map<std::string, std::unique_ptr<httplib::Client>> clients;  // by scheme://host:port
    const std::string type(kContentType);
    std::unique_lock<std::mutex> lk(mu_);
    while (true) {
        cv_.wait(lk, [this] { return quit_ || !queue_.empty(); });
        if (quit_) {
            return;
        }
        std::vector<std::pair<std::string, std::string>> batch;
        batch.swap(queue_);
        lk.unlock();
        for (auto& [url, body] : batch) {
            const auto scheme_end = url.find("://");
            const auto path_at = url.find('/', scheme_end == std::string::npos ? 0 : scheme_end + 3);
            const std::string base = url.substr(0, path_at);
            const std::string path = path_at == std::string::npos ? "/" : url.substr(path_at);
            auto& cli = clients[base];
            if (!cli) {
                const bool tls = base.rfind("https://", 0) == 0;
                cli = tls && tls_.enabled() ? std::make_unique<httplib::Client>(base, tls_.cert, tls_.key)
                                            : std::make_unique<httplib::Client>(base);
                if (tls) {
                    if (!tls_.ca.empty()) {
                        cli->set_ca_cert_path(tls_.ca);
                    }
                    cli->enable_server_certificate_verification(true);
                }
                cli->set_connection_timeout(2, 0);
                cli->set_read_timeout(5, 0);
            }
            if (!cli->is_valid()) {
                failed.fetch_add(1, std::memory_order_relaxed);
                continue;
            }
            auto res = cli->Post(path, body, type);
            (res && res->status / 100 == 2 ? exported : failed).fetch_add(1, std::memory_order_relaxed);
        }
        lk.lock();
    }
}

}  // namespace weir::mplane
