// The per-message Tstat logs, from FlowMeter's layer-7 messages (flow::L7Record):
// log_http_complete (one TAB-separated row per HTTP request or response head, Tstat's 13
// columns) and log_dns_complete (one space-separated row per question of a query, per answer of
// a response, or one per error response: Tstat's 22 columns, as its ldns-based writer prints
// them). Pure formatting over the copied bytes; bounded reads only.
#pragma once

#include <flow/flow_record.hpp>

#include <string>
#include <string_view>

namespace weir::blocks::l7log {

// Tstat's http_full_url knob: 0 = no path, Referer and Location cut to scheme://authority, no
// cookies; 1 = path without its query string, cookies still hidden; 2 = everything.
enum class UrlPrivacy : uint8_t { kHidden = 0, kPathOnly = 1, kFull = 2 };

// The header lines of each log (with their trailing newline).
std::string_view http_header();
std::string_view dns_header();

// Appends the row of one HTTP head; `ends` holds "c_ip\tc_port\ts_ip\ts_port\t" already formatted.
// False if the bytes do not start an HTTP/1.x message (nothing appended).
bool append_http_row(std::string& out, std::string_view ends, const flow::L7Record& e, UrlPrivacy privacy);

// Appends the rows of one DNS message; `ends` holds the 8 endpoint columns and a trailing space.
// Returns the rows appended (0 for an answerless response or a message that is not DNS).
int append_dns_rows(std::string& out, std::string_view ends, const flow::L7Record& e);

}  // namespace weir::blocks::l7log
