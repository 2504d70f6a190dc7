#include "examples/datagen/datagen.h"

#include <fcntl.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <initializer_list>
#include <iterator>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/civil_days.h"
#include "common/status.h"
#include "common/strings.h"

namespace sluice::datagen {
namespace {

// ---------------------------------------------------------------------------
// Randomness. All mapping from raw 64-bit draws to values is done here, so output is
// the same on every standard library.

class Rng {
 public:
  explicit Rng(uint64_t seed) : gen_(seed) {}

  uint64_t Next() { return gen_(); }
  // Uniform in [0, n); n > 0. Multiply-shift (bias < n / 2^64, irrelevant here).
  uint64_t Below(uint64_t n) {
    return static_cast<uint64_t>((static_cast<unsigned __int128>(gen_()) * n) >> 64);
  }
  // Uniform in [lo, hi].
  int64_t Range(int64_t lo, int64_t hi) {
    return lo + static_cast<int64_t>(Below(static_cast<uint64_t>(hi - lo) + 1));
  }
  // Uniform in [0, 1).
  double Uniform() { return static_cast<double>(gen_() >> 11) * 0x1.0p-53; }
  bool Chance(double p) { return Uniform() < p; }

 private:
  std::mt19937_64 gen_;
};

// Picks an index with probability proportional to integer weights.
class WeightedPicker {
 public:
  void Add(uint64_t weight) {
    total_ += weight;
    cumulative_.push_back(total_);
  }
  size_t Pick(Rng& rng) const {
    uint64_t r = rng.Below(total_);
    return static_cast<size_t>(std::upper_bound(cumulative_.begin(), cumulative_.end(), r) -
                               cumulative_.begin());
  }
  size_t size() const { return cumulative_.size(); }

 private:
  std::vector<uint64_t> cumulative_;
  uint64_t total_ = 0;
};

// Zipf-like popularity (exponent 1, rank shifted by `shift` to flatten the head) over n
// ranks, using integer weights only.
WeightedPicker ZipfPicker(size_t n, size_t shift) {
  WeightedPicker p;
  for (size_t k = 0; k < n; ++k) p.Add(100'000'000 / (k + 1 + shift));
  return p;
}

template <typename T>
struct Weighted {
  uint64_t weight;
  T value;
};

template <typename T>
class Table {
 public:
  Table(std::initializer_list<Weighted<T>> items) {
    for (const auto& it : items) {
      picker_.Add(it.weight);
      values_.push_back(it.value);
    }
  }
  const T& Pick(Rng& rng) const { return values_[picker_.Pick(rng)]; }

 private:
  WeightedPicker picker_;
  std::vector<T> values_;
};

// ---------------------------------------------------------------------------
// Formatting helpers (append to a std::string whose capacity is reused).

void AppendInt(std::string* out, int64_t v) {
  char buf[24];
  auto res = std::to_chars(buf, buf + sizeof(buf), v);
  out->append(buf, res.ptr);
}

void Append2(std::string* out, int v) {
  char buf[2] = {static_cast<char>('0' + v / 10), static_cast<char>('0' + v % 10)};
  out->append(buf, 2);
}

void AppendHex2(std::string* out, unsigned v) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  char buf[4] = {'\\', 'x', kHex[(v >> 4) & 15], kHex[v & 15]};
  out->append(buf, 4);
}

// 36-char UUID-like string (version 4 layout) from two 64-bit draws.
std::string MakeUuid(Rng& rng) {
  static constexpr char kHex[] = "0123456789abcdef";
  uint64_t a = rng.Next(), b = rng.Next();
  std::string s(36, '-');
  int bit = 0;
  for (int i = 0; i < 36; ++i) {
    if (i == 8 || i == 13 || i == 18 || i == 23) continue;
    uint64_t word = bit < 64 ? a : b;
    s[i] = kHex[(word >> (bit % 64)) & 15];
    bit += 4;
  }
  s[14] = '4';
  s[19] = kHex[8 + ((b >> 60) & 3)];
  return s;
}

std::string MakeIpv4(uint64_t r) {
  // First octet from common public ranges (avoid 0, 10, 127, 169.254, 172.16/12,
  // 192.168, multicast and reserved).
  static constexpr int kFirst[] = {1,   5,   14,  23,  27,  31,  36,  37,  39,  42,  45,  46,  49,
                                   58,  59,  60,  61,  66,  68,  71,  73,  77,  78,  81,  82,  85,
                                   86,  89,  91,  93,  95,  101, 103, 106, 110, 111, 112, 113, 114,
                                   115, 116, 117, 118, 119, 120, 121, 122, 123, 124, 125, 139, 140,
                                   171, 175, 176, 178, 180, 182, 183, 185, 188, 193, 194, 195, 198,
                                   203, 210, 211, 212, 213, 218, 219, 220, 221, 222, 223};
  constexpr size_t kNumFirst = sizeof(kFirst) / sizeof(kFirst[0]);
  std::string s;
  AppendInt(&s, kFirst[(r & 0xffff) % kNumFirst]);
  for (int i = 1; i < 4; ++i) {
    s.push_back('.');
    int octet = static_cast<int>((r >> (16 + 8 * i)) & 0xff);
    if (i == 3 && octet == 0) octet = 1;
    AppendInt(&s, octet);
  }
  return s;
}

std::string MakeIpv6(uint64_t r) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string s = "2001:db8:";
  for (int g = 0; g < 3; ++g) {
    unsigned v = static_cast<unsigned>((r >> (16 * g)) & 0xffff);
    bool started = false;
    for (int shift = 12; shift >= 0; shift -= 4) {
      unsigned nib = (v >> shift) & 15;
      if (nib == 0 && !started && shift != 0) continue;
      started = true;
      s.push_back(kHex[nib]);
    }
    s.append(g < 2 ? ":" : "::");
  }
  AppendInt(&s, static_cast<int64_t>((r >> 48) & 0xff) + 1);
  return s;
}

int64_t FloorDiv(int64_t a, int64_t b) {
  int64_t q = a / b;
  if ((a % b != 0) && ((a < 0) != (b < 0))) --q;
  return q;
}

constexpr const char* kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                   "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

// Appends "DD/Mon/YYYY:HH:MM:SS" for UTC ms `utc_ms` shifted by `offset_sec`.
void AppendLocalTime(std::string* out, int64_t utc_ms, int64_t offset_sec) {
  int64_t local = FloorDiv(utc_ms, 1000) + offset_sec;
  int64_t days = FloorDiv(local, 86400);
  int64_t secs = local - days * 86400;
  int64_t y;
  int m, d;
  CivilFromDays(days, &y, &m, &d);
  Append2(out, d);
  out->push_back('/');
  out->append(kMonths[m - 1], 3);
  out->push_back('/');
  AppendInt(out, y);
  out->push_back(':');
  Append2(out, static_cast<int>(secs / 3600));
  out->push_back(':');
  Append2(out, static_cast<int>(secs / 60 % 60));
  out->push_back(':');
  Append2(out, static_cast<int>(secs % 60));
}

// ---------------------------------------------------------------------------
// Buffered output to a plain file or a gzip stream.

class OutputFile {
 public:
  OutputFile() = default;
  OutputFile(const OutputFile&) = delete;
  OutputFile& operator=(const OutputFile&) = delete;
  ~OutputFile() {
    if (gz_ != nullptr) gzclose(gz_);
    if (fd_ >= 0) ::close(fd_);
  }

  absl::Status Open(const std::string& path, bool gzip, int level) {
    path_ = path;
    fd_ = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd_ < 0) return ErrnoToStatus(errno, path);
    if (gzip) {
      std::string mode = absl::StrCat("wb", level);
      gz_ = gzdopen(fd_, mode.c_str());
      if (gz_ == nullptr) return absl::InternalError(absl::StrCat(path, ": gzdopen failed"));
      fd_ = -1;  // owned by gz_ now
      gzbuffer(gz_, 1 << 20);
    }
    buf_.reserve(kBufferSize + 4096);
    return absl::OkStatus();
  }

  // Appends `s`; flushes when the buffer is full. Errors are reported by Close().
  void Append(std::string_view s) {
    buf_.append(s);
    if (buf_.size() >= kBufferSize) Flush();
  }

  absl::Status Close() {
    Flush();
    if (gz_ != nullptr) {
      int rc = gzclose(gz_);
      gz_ = nullptr;
      if (rc != Z_OK && status_.ok()) {
        status_ = absl::UnknownError(absl::StrCat(path_, ": gzclose failed (", rc, ")"));
      }
    }
    if (fd_ >= 0) {
      if (::close(fd_) != 0 && status_.ok()) status_ = ErrnoToStatus(errno, path_);
      fd_ = -1;
    }
    return status_;
  }

 private:
  static constexpr size_t kBufferSize = 4 << 20;

  void Flush() {
    if (buf_.empty() || !status_.ok()) {
      buf_.clear();
      return;
    }
    if (gz_ != nullptr) {
      if (gzwrite(gz_, buf_.data(), static_cast<unsigned>(buf_.size())) !=
          static_cast<int>(buf_.size())) {
        int errnum = 0;
        const char* msg = gzerror(gz_, &errnum);
        status_ = errnum == Z_ERRNO ? ErrnoToStatus(errno, path_)
                                    : absl::UnknownError(absl::StrCat(path_, ": ", msg));
      }
    } else {
      const char* p = buf_.data();
      size_t left = buf_.size();
      while (left > 0) {
        ssize_t n = ::write(fd_, p, left);
        if (n < 0) {
          if (errno == EINTR) continue;
          status_ = ErrnoToStatus(errno, path_);
          break;
        }
        p += n;
        left -= static_cast<size_t>(n);
      }
    }
    buf_.clear();
  }

  std::string path_;
  int fd_ = -1;
  gzFile gz_ = nullptr;
  std::string buf_;
  absl::Status status_;
};

// ---------------------------------------------------------------------------
// nginx combined log lines.

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

enum class PageKind {
  kHome,
  kItem,
  kCategory,
  kSearch,
  kCart,
  kCartAdd,
  kCheckout,
  kLogin,
  kAccount,
  kApiItem,
  kApiCart,
  kApiRecs,
  kApiSearch,
  kApiEvents,
  kMisc,
  kTricky
};

const Table<PageKind>& PageKinds() {
  static const auto* t = new Table<PageKind>({
      {120, PageKind::kHome},
      {330, PageKind::kItem},
      {110, PageKind::kCategory},
      {90, PageKind::kSearch},
      {40, PageKind::kCart},
      {20, PageKind::kCartAdd},
      {15, PageKind::kCheckout},
      {15, PageKind::kLogin},
      {15, PageKind::kAccount},
      {80, PageKind::kApiItem},
      {25, PageKind::kApiCart},
      {30, PageKind::kApiRecs},
      {25, PageKind::kApiSearch},
      {20, PageKind::kApiEvents},
      {60, PageKind::kMisc},
      {5, PageKind::kTricky},
  });
  return *t;
}

constexpr const char* kSearchWords[] = {
    "shoes", "red+dress",          "laptop", "usb-c%20cable", "coffee", "headphones", "desk",
    "lamp",  "%E4%B8%AD%E6%96%87", "gift",   "phone+case",    "tent",   "backpack",   "watch"};
constexpr const char* kMiscPaths[] = {"/about",
                                      "/help/faq",
                                      "/contact",
                                      "/robots.txt",
                                      "/sitemap.xml",
                                      "/privacy",
                                      "/terms",
                                      "/blog",
                                      "/blog/2026/11/black-friday",
                                      "/static-info",
                                      "/api/v1/export.json",
                                      "/.well-known/security.txt"};
// Unusual but well-formed targets: a literal backslash (nginx writes \x5C), a path that
// is not static (capital S, no extension), one that ends in a static-like word.
constexpr const char* kTrickyTargets[] = {"/search\\x5Cfoo?q=a%09b", "/Static/readme",
                                          "/files/report.css.txt", "/item/7/",
                                          "/category/3?sort=price&order=desc&q=%22x%22"};

void AppendPageTarget(Rng& rng, PageKind kind, const WeightedPicker& item_zipf, std::string* out,
                      std::string_view* method) {
  *method = "GET";
  switch (kind) {
    case PageKind::kHome:
      out->append("/");
      if (rng.Chance(0.1)) out->append("?utm_source=newsletter&utm_medium=email");
      break;
    case PageKind::kItem:
      out->append("/item/");
      AppendInt(out, static_cast<int64_t>(item_zipf.Pick(rng)) + 1);
      if (rng.Chance(0.25)) {
        static constexpr const char* kRefs[] = {"?ref=home", "?ref=search&pos=3", "?ref=category",
                                                "?utm_source=google"};
        out->append(kRefs[rng.Below(4)]);
      }
      break;
    case PageKind::kCategory:
      out->append("/category/");
      AppendInt(out, rng.Range(1, 40));
      if (rng.Chance(0.3)) {
        out->append("?page=");
        AppendInt(out, rng.Range(2, 9));
        out->append("&sort=price");
      }
      break;
    case PageKind::kSearch:
      out->append("/search");
      if (!rng.Chance(0.08)) {
        out->append("?q=");
        out->append(kSearchWords[rng.Below(std::size(kSearchWords))]);
        if (rng.Chance(0.2)) out->append("&page=2");
      }
      break;
    case PageKind::kCart:
      out->append("/cart");
      break;
    case PageKind::kCartAdd:
      out->append("/cart/add?item=");
      AppendInt(out, static_cast<int64_t>(item_zipf.Pick(rng)) + 1);
      *method = "POST";
      break;
    case PageKind::kCheckout:
      out->append(rng.Chance(0.5) ? "/checkout" : "/checkout/payment");
      if (rng.Chance(0.3)) *method = "POST";
      break;
    case PageKind::kLogin:
      out->append("/login");
      if (rng.Chance(0.5))
        *method = "POST";
      else if (rng.Chance(0.3))
        out->append("?next=%2Faccount%2Forders");
      break;
    case PageKind::kAccount:
      out->append(rng.Chance(0.6) ? "/account/orders" : "/account/settings");
      break;
    case PageKind::kApiItem:
      out->append("/api/v1/items/");
      AppendInt(out, static_cast<int64_t>(item_zipf.Pick(rng) % 100) + 1);
      break;
    case PageKind::kApiCart:
      out->append("/api/v1/cart");
      if (rng.Chance(0.4)) *method = "POST";
      break;
    case PageKind::kApiRecs:
      out->append("/api/v1/recommendations?user=");
      AppendInt(out, rng.Range(1000, 99999));
      break;
    case PageKind::kApiSearch:
      out->append("/api/v2/search?q=");
      out->append(kSearchWords[rng.Below(std::size(kSearchWords))]);
      out->append("&limit=20");
      break;
    case PageKind::kApiEvents:
      out->append("/api/v1/events");
      *method = "POST";
      break;
    case PageKind::kMisc:
      out->append(kMiscPaths[rng.Below(std::size(kMiscPaths))]);
      break;
    case PageKind::kTricky:
      out->append(kTrickyTargets[rng.Below(std::size(kTrickyTargets))]);
      break;
  }
}

constexpr const char* kStaticTargets[] = {
    "/static/css/main.css",   "/static/css/vendor.min.css", "/static/js/app.js",
    "/static/js/vendor.js",   "/static/js/app.js.map",      "/static/img/logo.png",
    "/static/img/logo.PNG",   "/static/img/spinner.gif",    "/static/img/photo.JPEG",
    "/static/icons/cart.svg", "/static/fonts/inter.woff2",  "/static/fonts/inter.woff",
    "/static/manifest",       "/static/data/config.json",   "/favicon.ico",
    "/assets/app.JS",         "/assets/theme.Css",          "/images/hero.JPG",
    "/download/app.js"};

void AppendStaticTarget(Rng& rng, std::string* out) {
  uint64_t r = rng.Below(100);
  if (r < 20) {  // product images, outside /static/
    out->append(r < 10 ? "/static/img/items/" : "/images/items/");
    AppendInt(out, rng.Range(1, 300));
    out->append(r % 3 == 0 ? ".jpg" : (r % 3 == 1 ? ".jpeg" : ".png"));
    return;
  }
  const char* t = kStaticTargets[rng.Below(std::size(kStaticTargets))];
  out->append(t);
  if (rng.Chance(0.25)) {
    out->append("?v=");
    AppendInt(out, rng.Range(100, 999));
  }
}

constexpr const char* kBrowserUserAgents[] = {
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/130.0.0.0 Safari/537.36 Edg/130.0.2849.80",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like "
    "Gecko) Version/18.1 Safari/605.1.15",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like "
    "Gecko) Chrome/131.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:132.0) Gecko/20100101 Firefox/132.0",
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36",
    "Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:132.0) Gecko/20100101 Firefox/132.0",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, "
    "like Gecko) Version/18.1 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, "
    "like Gecko) CriOS/131.0.6778.73 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (Linux; Android 14; SM-S918B) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.6778.81 Mobile Safari/537.36",
    "Mozilla/5.0 (Linux; Android 13; Pixel 7) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/130.0.6723.107 Mobile Safari/537.36",
    "Mozilla/5.0 (iPad; CPU OS 17_7 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like "
    "Gecko) Version/17.7 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (Linux; U; Android 12; zh-CN; V2199A Build/SP1A.210812.003) "
    "AppleWebKit/537.36 (KHTML, like Gecko) Version/4.0 Chrome/100.0.4896.58 "
    "UCBrowser/16.6.2.1249 Mobile Safari/537.36",
    "curl/8.4.0",
    "python-requests/2.31.0",
    "okhttp/4.12.0",
    "-",
};
constexpr uint64_t kBrowserUserAgentWeights[] = {30, 8, 10, 8, 7, 3, 2, 14, 4,
                                                 8,  5, 2,  3, 1, 1, 2, 1};
static_assert(std::size(kBrowserUserAgents) == std::size(kBrowserUserAgentWeights));

// Every one contains "bot", "spider" or "crawl" in some case.
constexpr const char* kBotUserAgents[] = {
    "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
    "Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; Googlebot/2.1; "
    "+http://www.google.com/bot.html) Chrome/131.0.6778.69 Safari/537.36",
    "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)",
    "Mozilla/5.0 (compatible; Baiduspider/2.0; +http://www.baidu.com/search/spider.html)",
    "Mozilla/5.0 (compatible; AhrefsBot/7.0; +http://ahrefs.com/robot/)",
    "Mozilla/5.0 (compatible; YandexBot/3.0; +http://yandex.com/bots)",
    "Sogou web spider/4.0(+http://www.sogou.com/docs/help/webmasters.htm#07)",
    "SomeCrawler/1.0",
    "Mozilla/5.0 (compatible; SemrushBot/7~bl; +http://www.semrush.com/bot.html)",
    "DuckDuckBot/1.1; (+http://duckduckgo.com/duckduckbot.html)",
    "Mozilla/5.0 (Linux; Android 5.0) AppleWebKit/537.36 (KHTML, like Gecko) Mobile "
    "Safari/537.36 (compatible; Bytespider; spider-feedback@bytedance.com)",
    "ia_archiver (+http://www.alexa.com/site/help/webmasters; crawler@alexa.com)",
    "WebCrawler-NG/0.9 (+https://example.net/CRAWL)",
    "MJ12BOT/v1.4.8 (http://mj12bot.com/)",
    "Mozilla/5.0 (compatible; SPIDERling/1.0)",
};

constexpr const char* kReferers[] = {
    "-",
    "https://shop.example.com/",
    "https://shop.example.com/search?q=shoes",
    "https://shop.example.com/category/12",
    "https://shop.example.com/item/42",
    "https://shop.example.com/cart",
    "https://www.google.com/",
    "https://www.bing.com/search?q=example+shop",
    "https://t.co/Xy12AbCd",
    "https://www.baidu.com/link?url=abc123",
    "android-app://com.google.android.gm/",
};
constexpr uint64_t kRefererWeights[] = {45, 12, 6, 6, 8, 3, 12, 3, 2, 2, 1};
static_assert(std::size(kReferers) == std::size(kRefererWeights));

struct StatusChoice {
  const char* status;
  int64_t min_bytes;
  int64_t max_bytes;
};

const Table<StatusChoice>& PageStatuses() {
  static const auto* t = new Table<StatusChoice>({
      {840, {"200", 512, 60000}},
      {40, {"304", 0, 0}},
      {30, {"301", 169, 169}},
      {20, {"302", 145, 145}},
      {50, {"404", 153, 555}},
      {10, {"500", 177, 597}},
      {5, {"502", 157, 559}},
      {5, {"503", 190, 190}},
  });
  return *t;
}

const Table<StatusChoice>& StaticStatuses() {
  static const auto* t = new Table<StatusChoice>({
      {640, {"200", 300, 250000}},
      {330, {"304", 0, 0}},
      {30, {"404", 153, 153}},
  });
  return *t;
}

enum class Malformed {
  kTruncated,
  kGarbage,
  kBadTime,
  kMissingQuote,
  kBadStatus,
  kTlsJunk,
  kEmptyRequest,
  kBadRequestLine
};

const Table<Malformed>& MalformedKinds() {
  static const auto* t = new Table<Malformed>({
      {20, Malformed::kTruncated},
      {10, Malformed::kGarbage},
      {15, Malformed::kBadTime},
      {10, Malformed::kMissingQuote},
      {10, Malformed::kBadStatus},
      {15, Malformed::kTlsJunk},
      {12, Malformed::kEmptyRequest},
      {8, Malformed::kBadRequestLine},
  });
  return *t;
}

constexpr const char* kBadTimes[] = {
    "32/Foo/2026:99:00:00 +0800", "32/Nov/2026:08:15:02 +0800", "20/Foo/2026:08:15:02 +0800",
    "20/nov/2026:08:15:02 +0800", "20/Nov/2026:24:15:02 +0800", "20/Nov/2026:08:60:02 +0800",
    "20/Nov/2026:08:15:60 +0800", "31/Nov/2026:08:15:02 +0800", "29/Feb/2026:08:15:02 +0800",
    "30/Feb/2028:08:15:02 +0800", "00/Nov/2026:08:15:02 +0800", "20/Nov/2026:08:15:02 +1500",
    "20/Nov/2026:08:15:02 +0860", "20/Nov/2026:08:15:02",       "2026-11-20T08:15:02+08:00",
    "20/Nov/26:08:15:02 +0800",   "20/Nov/2026 08:15:02 +0800", "20/Nov/2026:8:15:02 +0800",
};

constexpr const char* kBadRequestLines[] = {
    "get /item/1 HTTP/1.1",
    "GET /item/1",
    "GET /item/1 HTTP/1.1 extra",
    "GET  /item/1 HTTP/1.1",
    "GET /item/1 FTP/1.0",
    "GET /item/1 http/1.1",
    "G3T /item/1 HTTP/1.1",
    "GET /item/1 HTTP/1.1 ",
    " GET /item/1 HTTP/1.1",
    "Get /cart HTTP/1.1",
    "GET",
    "/item/1 HTTP/1.1",
};

constexpr const char* kBadStatuses[] = {"OK", "2OO", "20", "2000", "-", "abc", "2 0"};

struct NginxGen {
  Rng rng;
  int64_t offset_sec;
  std::string tz;
  std::vector<std::string> client_ips;
  WeightedPicker client_zipf;
  std::vector<std::string> bot_ips;
  WeightedPicker item_zipf;
  WeightedPicker browser_ua;
  WeightedPicker referer;
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
    for (uint64_t w : kBrowserUserAgentWeights) browser_ua.Add(w);
    for (uint64_t w : kRefererWeights) referer.Add(w);
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
    line.append(kReferers[referer.Pick(rng)]);
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
      AppendRefererAndUa(kBrowserUserAgents[browser_ua.Pick(rng)]);
    }
  }

  void AppendRefererAndUaBot() {
    line.append(" \"-\" \"");
    line.append(kBotUserAgents[rng.Below(std::size(kBotUserAgents))]);
    line.push_back('"');
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
        line.replace(open + 1, close - open - 1, kBadTimes[rng.Below(std::size(kBadTimes))]);
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
        line.replace(q + 2, 3, kBadStatuses[rng.Below(std::size(kBadStatuses))]);
        break;
      }
      case Malformed::kTlsJunk: {
        line.clear();
        AppendPrefix(client_ips[client_zipf.Pick(rng)], request_ms);
        line.append(" \"");
        // A TLS ClientHello sent to a plain-HTTP port, escaped the way nginx logs it.
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
        break;
      }
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
        line.append(kBadRequestLines[rng.Below(std::size(kBadRequestLines))]);
        line.append("\" 400 157 \"-\" \"");
        line.append(kBrowserUserAgents[browser_ua.Pick(rng)]);
        line.push_back('"');
        break;
      }
    }
  }
};

absl::Status WriteFileContents(const std::string& path, std::string_view contents) {
  OutputFile out;
  RETURN_IF_ERROR(out.Open(path, /*gzip=*/false, 0));
  out.Append(contents);
  return out.Close();
}

}  // namespace

absl::Status GenerateNginxLogs(const NginxLogOptions& opts) {
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

absl::Status GenerateYsb(const YsbOptions& opts) {
  if (opts.events_path.empty() || opts.ads_path.empty()) {
    return absl::InvalidArgumentError("events_path and ads_path are required");
  }
  if (opts.num_events < 0) return absl::InvalidArgumentError("num_events is negative");
  if (opts.num_campaigns <= 0 || opts.ads_per_campaign <= 0) {
    return absl::InvalidArgumentError("num_campaigns and ads_per_campaign must be > 0");
  }
  if (opts.events_per_second <= 0) {
    return absl::InvalidArgumentError("events_per_second must be > 0");
  }
  if (opts.max_disorder_ms < 0) return absl::InvalidArgumentError("max_disorder_ms < 0");

  Rng rng(opts.seed);
  const int num_ads = opts.num_campaigns * opts.ads_per_campaign;
  std::vector<std::string> ads;
  ads.reserve(num_ads);
  std::string csv = "ad_id,campaign_id\n";
  for (int c = 0; c < opts.num_campaigns; ++c) {
    std::string campaign = MakeUuid(rng);
    for (int a = 0; a < opts.ads_per_campaign; ++a) {
      ads.push_back(MakeUuid(rng));
      absl::StrAppend(&csv, ads.back(), ",", campaign, "\n");
    }
  }
  RETURN_IF_ERROR(WriteFileContents(opts.ads_path, csv));

  constexpr int kUsers = 10000;
  constexpr int kPages = 1000;
  std::vector<std::string> users, pages;
  users.reserve(kUsers);
  pages.reserve(kPages);
  for (int i = 0; i < kUsers; ++i) users.push_back(MakeUuid(rng));
  for (int i = 0; i < kPages; ++i) pages.push_back(MakeUuid(rng));
  static constexpr const char* kAdTypes[] = {"banner", "modal", "sponsored-search", "mail",
                                             "mobile"};
  static constexpr const char* kEventTypes[] = {"view", "click", "purchase"};

  OutputFile out;
  RETURN_IF_ERROR(out.Open(opts.events_path, /*gzip=*/false, 0));
  std::string line;
  line.reserve(512);
  for (int64_t i = 0; i < opts.num_events; ++i) {
    int64_t nominal = opts.start_time_ms + i * 1000 / opts.events_per_second;
    int64_t t = std::max(
        opts.start_time_ms,
        nominal - static_cast<int64_t>(rng.Below(static_cast<uint64_t>(opts.max_disorder_ms) + 1)));
    line.assign("{\"user_id\":\"");
    line.append(users[rng.Below(kUsers)]);
    line.append("\",\"page_id\":\"");
    line.append(pages[rng.Below(kPages)]);
    line.append("\",\"ad_id\":\"");
    line.append(ads[rng.Below(static_cast<uint64_t>(num_ads))]);
    line.append("\",\"ad_type\":\"");
    line.append(kAdTypes[rng.Below(std::size(kAdTypes))]);
    line.append("\",\"event_type\":\"");
    line.append(kEventTypes[rng.Below(std::size(kEventTypes))]);
    line.append("\",\"event_time\":");
    AppendInt(&line, t);
    line.append(",\"ip_address\":\"");
    uint64_t ip = rng.Next();
    AppendInt(&line, static_cast<int64_t>(ip & 0xff) % 223 + 1);
    for (int k = 1; k < 4; ++k) {
      line.push_back('.');
      AppendInt(&line, static_cast<int64_t>((ip >> (8 * k)) & 0xff));
    }
    line.append("\"}\n");
    out.Append(line);
  }
  return out.Close();
}

}  // namespace sluice::datagen
