// GenerateNginxLogs: nginx "combined" lines assembled from the traffic mix of
// nginx_traffic.h, well formed or malformed, written in completion order.
#include <algorithm>
#include <iterator>
#include <string>
#include <string_view>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/status.h"
#include "common/strings.h"
#include "examples/datagen/datagen.h"
#include "examples/datagen/nginx_traffic.h"
#include "examples/datagen/output_file.h"
#include "examples/datagen/rng.h"
#include "examples/datagen/text_format.h"

namespace sluice::datagen {
namespace {

absl::Status ParseTzOffset(std::string_view tz, int64_t* offset_sec) {
  auto digit = [](char c) { return c >= '0' && c <= '9'; };
  if (tz.size() != 5 || (tz[0] != '+' && tz[0] != '-') || !digit(tz[1]) || !digit(tz[2]) ||
      !digit(tz[3]) || !digit(tz[4])) {
    return absl::InvalidArgumentError(
        absl::StrCat("tz_offset must look like +0800, got '", Sv(tz), "'"));
  }
  int hh = (tz[1] - '0') * 10 + (tz[2] - '0');
  int mm = (tz[3] - '0') * 10 + (tz[4] - '0');
  if (hh > 14 || mm > 59) {
    return absl::InvalidArgumentError(absl::StrCat("tz_offset out of range: '", Sv(tz), "'"));
  }
  *offset_sec = (tz[0] == '-' ? -1 : 1) * (hh * 3600 + mm * 60);
  return absl::OkStatus();
}

struct NginxGen {
  Rng rng;
  int64_t offset_sec;
  std::string tz;
  std::vector<std::string> client_ips;
  WeightedPicker client_zipf;
  std::vector<std::string> bot_ips;
  WeightedPicker item_zipf;
  std::string line;
  std::string scratch;

  explicit NginxGen(uint64_t seed) : rng(seed) {}

  void Init() {
    constexpr int kClients = 4000;
    client_ips.reserve(kClients);
    for (int i = 0; i < kClients; ++i) {
      uint64_t r = rng.Next();
      client_ips.push_back(r % 40 == 0 ? MakeIpv6(rng.Next()) : MakeIpv4(r));
    }
    client_zipf = ZipfPicker(kClients, 10);
    for (int i = 0; i < 60; ++i) bot_ips.push_back(MakeIpv4(rng.Next()));
    item_zipf = ZipfPicker(300, 2);
  }

  // Appends the part of a line before the request: `addr - user [time]`.
  void AppendPrefix(std::string_view addr, int64_t request_ms) {
    line.append(addr);
    line.append(" - ");
    if (rng.Chance(0.01)) {
      static constexpr const char* kUsers[] = {"alice", "bob", "admin", "ops", "guest"};
      line.append(kUsers[rng.Below(std::size(kUsers))]);
    } else {
      line.push_back('-');
    }
    line.append(" [");
    AppendLocalTime(&line, request_ms, offset_sec);
    line.push_back(' ');
    line.append(tz);
    line.push_back(']');
  }

  void AppendProtocol() {
    uint64_t r = rng.Below(100);
    line.append(r < 85 ? "HTTP/1.1" : (r < 98 ? "HTTP/2.0" : "HTTP/1.0"));
  }

  void AppendStatusAndBytes(const StatusChoice& s, bool head) {
    line.push_back(' ');
    line.append(s.status);
    line.push_back(' ');
    if (rng.Chance(0.002)) {
      line.push_back('-');
    } else {
      AppendInt(&line, head ? 0 : rng.Range(s.min_bytes, s.max_bytes));
    }
  }

  void AppendRefererAndUa(std::string_view ua) {
    line.append(" \"");
    line.append(PickReferer(rng));
    line.append("\" \"");
    line.append(ua);
    line.push_back('"');
  }

  // One well-formed line of the given traffic class.
  enum class Traffic { kPage, kStatic, kBot };
  void BuildValidLine(Traffic traffic, int64_t request_ms) {
    line.clear();
    bool bot = traffic == Traffic::kBot;
    std::string_view addr = bot ? std::string_view(bot_ips[rng.Below(bot_ips.size())])
                                : std::string_view(client_ips[client_zipf.Pick(rng)]);
    AppendPrefix(addr, request_ms);
    line.append(" \"");
    std::string_view method = "GET";
    bool is_static = traffic == Traffic::kStatic || (bot && rng.Chance(0.15));
    scratch.clear();
    if (is_static) {
      AppendStaticTarget(rng, &scratch);
    } else if (bot && rng.Chance(0.15)) {
      scratch.append(rng.Chance(0.7) ? "/robots.txt" : "/sitemap.xml");
    } else {
      AppendPageTarget(rng, PageKinds().Pick(rng), item_zipf, &scratch, &method);
    }
    bool head = false;
    if (method == "GET" && rng.Chance(0.015)) {
      method = "HEAD";
      head = true;
    } else if (method == "GET" && rng.Chance(0.002)) {
      method = "OPTIONS";
    }
    line.append(method);
    line.push_back(' ');
    line.append(scratch);
    line.push_back(' ');
    AppendProtocol();
    line.push_back('"');
    const StatusChoice& st = is_static ? StaticStatuses().Pick(rng) : PageStatuses().Pick(rng);
    AppendStatusAndBytes(method == "POST" && st.status[0] == '2' && rng.Chance(0.3)
                             ? StatusChoice{"302", 145, 145}
                             : st,
                         head);
    if (bot) {
      AppendRefererAndUaBot();
    } else {
      AppendRefererAndUa(PickBrowserUserAgent(rng));
    }
  }

  void AppendRefererAndUaBot() {
    line.append(" \"-\" \"");
    line.append(PickBotUserAgent(rng));
    line.push_back('"');
  }

  // A TLS ClientHello sent to a plain-HTTP port, escaped the way nginx logs it.
  void BuildTlsJunkLine(int64_t request_ms) {
    line.clear();
    AppendPrefix(client_ips[client_zipf.Pick(rng)], request_ms);
    line.append(" \"");
    static constexpr unsigned kHello[] = {0x16, 0x03, 0x01};
    for (unsigned b : kHello) AppendHex2(&line, b);
    int64_t n = rng.Range(4, 60);
    for (int64_t i = 0; i < n; ++i) {
      unsigned b = static_cast<unsigned>(rng.Below(256));
      if (b >= 0x20 && b < 0x7f && b != '"' && b != '\\') {
        line.push_back(static_cast<char>(b));
      } else {
        AppendHex2(&line, b);
      }
    }
    line.append("\" 400 ");
    line.append(rng.Chance(0.7) ? "157" : "0");
    line.append(" \"-\" \"-\"");
  }

  void BuildMalformedLine(int64_t request_ms) {
    switch (MalformedKinds().Pick(rng)) {
      case Malformed::kTruncated: {
        BuildValidLine(Traffic::kPage, request_ms);
        // Any strict prefix lacks the final quote, so it is never well formed.
        line.resize(static_cast<size_t>(rng.Range(1, static_cast<int64_t>(line.size()) - 1)));
        break;
      }
      case Malformed::kGarbage: {
        line.clear();
        int64_t n = rng.Range(1, 160);
        for (int64_t i = 0; i < n; ++i) line.push_back(static_cast<char>(rng.Range(0x20, 0x7e)));
        break;
      }
      case Malformed::kBadTime: {
        BuildValidLine(Traffic::kPage, request_ms);
        size_t open = line.find('[');
        size_t close = line.find(']');
        line.replace(open + 1, close - open - 1, PickBadTime(rng));
        break;
      }
      case Malformed::kMissingQuote: {
        BuildValidLine(Traffic::kPage, request_ms);
        // Remove one of the six quotes.
        uint64_t which = rng.Below(6);
        size_t pos = std::string::npos;
        for (uint64_t i = 0; i <= which; ++i) pos = line.find('"', pos + 1);
        line.erase(pos, 1);
        break;
      }
      case Malformed::kBadStatus: {
        BuildValidLine(Traffic::kPage, request_ms);
        size_t q = line.find("\" ", line.find(" \"") + 2);
        line.replace(q + 2, 3, PickBadStatus(rng));
        break;
      }
      case Malformed::kTlsJunk:
        BuildTlsJunkLine(request_ms);
        break;
      case Malformed::kEmptyRequest: {
        line.clear();
        AppendPrefix(client_ips[client_zipf.Pick(rng)], request_ms);
        line.append(rng.Chance(0.8) ? " \"-\" 400 0 \"-\" \"-\"" : " \"\" 400 0 \"-\" \"-\"");
        break;
      }
      case Malformed::kBadRequestLine: {
        line.clear();
        AppendPrefix(client_ips[client_zipf.Pick(rng)], request_ms);
        line.append(" \"");
        line.append(PickBadRequestLine(rng));
        line.append("\" 400 157 \"-\" \"");
        line.append(PickBrowserUserAgent(rng));
        line.push_back('"');
        break;
      }
    }
  }
};

absl::Status CheckOptions(const NginxLogOptions& opts) {
  if (opts.output_path.empty()) return absl::InvalidArgumentError("output_path is empty");
  if (opts.num_lines < 0) return absl::InvalidArgumentError("num_lines is negative");
  if (opts.duration_ms <= 0) return absl::InvalidArgumentError("duration_ms must be > 0");
  if (opts.start_time_ms < 0) return absl::InvalidArgumentError("start_time_ms is negative");
  if (opts.gzip && (opts.gzip_level < 1 || opts.gzip_level > 9)) {
    return absl::InvalidArgumentError("gzip_level must be 1..9");
  }
  auto fraction_ok = [](double f) { return f >= 0 && f <= 1; };
  if (!fraction_ok(opts.bot_fraction) || !fraction_ok(opts.static_fraction) ||
      !fraction_ok(opts.malformed_fraction) ||
      opts.bot_fraction + opts.static_fraction + opts.malformed_fraction > 1) {
    return absl::InvalidArgumentError("traffic fractions must be in [0,1] and sum to <= 1");
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status GenerateNginxLogs(const NginxLogOptions& opts) {
  RETURN_IF_ERROR(CheckOptions(opts));
  NginxGen gen(opts.seed);
  RETURN_IF_ERROR(ParseTzOffset(opts.tz_offset, &gen.offset_sec));
  gen.tz = opts.tz_offset;
  gen.Init();

  OutputFile out;
  RETURN_IF_ERROR(out.Open(opts.output_path, opts.gzip, opts.gzip_level));
  const double malformed_cut = opts.malformed_fraction;
  const double bot_cut = malformed_cut + opts.bot_fraction;
  const double static_cut = bot_cut + opts.static_fraction;
  Rng& rng = gen.rng;
  for (int64_t i = 0; i < opts.num_lines; ++i) {
    // Lines are written at completion; completions are evenly spread and in order.
    int64_t completion_ms =
        opts.start_time_ms +
        static_cast<int64_t>(static_cast<unsigned __int128>(i) * opts.duration_ms /
                             static_cast<uint64_t>(opts.num_lines));
    uint64_t lr = rng.Below(1000);
    int64_t latency_ms = lr < 850   ? rng.Range(1, 2000)
                         : lr < 950 ? rng.Range(2000, 15000)
                         : lr < 995 ? rng.Range(15000, 90000)
                                    : rng.Range(90000, 120000);
    int64_t request_ms = std::max(opts.start_time_ms, completion_ms - latency_ms);
    double u = rng.Uniform();
    if (u < malformed_cut) {
      gen.BuildMalformedLine(request_ms);
    } else if (u < bot_cut) {
      gen.BuildValidLine(NginxGen::Traffic::kBot, request_ms);
    } else if (u < static_cut) {
      gen.BuildValidLine(NginxGen::Traffic::kStatic, request_ms);
    } else {
      gen.BuildValidLine(NginxGen::Traffic::kPage, request_ms);
    }
    // A few lines end in CRLF (e.g. appended by a Windows tool); readers strip the CR.
    if (rng.Below(1000) == 0) gen.line.push_back('\r');
    gen.line.push_back('\n');
    out.Append(gen.line);
  }
  return out.Close();
}

}  // namespace sluice::datagen
