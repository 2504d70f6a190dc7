#include "examples/datagen/nginx_traffic.h"

#include <iterator>

#include "examples/datagen/text_format.h"

namespace sluice::datagen {
namespace {

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

constexpr const char* kStaticTargets[] = {
    "/static/css/main.css",   "/static/css/vendor.min.css", "/static/js/app.js",
    "/static/js/vendor.js",   "/static/js/app.js.map",      "/static/img/logo.png",
    "/static/img/logo.PNG",   "/static/img/spinner.gif",    "/static/img/photo.JPEG",
    "/static/icons/cart.svg", "/static/fonts/inter.woff2",  "/static/fonts/inter.woff",
    "/static/manifest",       "/static/data/config.json",   "/favicon.ico",
    "/assets/app.JS",         "/assets/theme.Css",          "/images/hero.JPG",
    "/download/app.js"};

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

template <size_t N>
const WeightedPicker* NewPicker(const uint64_t (&weights)[N]) {
  auto* picker = new WeightedPicker;
  for (uint64_t w : weights) picker->Add(w);
  return picker;
}

}  // namespace

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

const char* PickBrowserUserAgent(Rng& rng) {
  static const WeightedPicker* const picker = NewPicker(kBrowserUserAgentWeights);
  return kBrowserUserAgents[picker->Pick(rng)];
}

const char* PickBotUserAgent(Rng& rng) { return PickUniform(rng, kBotUserAgents); }

const char* PickReferer(Rng& rng) {
  static const WeightedPicker* const picker = NewPicker(kRefererWeights);
  return kReferers[picker->Pick(rng)];
}

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

const char* PickBadTime(Rng& rng) { return PickUniform(rng, kBadTimes); }
const char* PickBadRequestLine(Rng& rng) { return PickUniform(rng, kBadRequestLines); }
const char* PickBadStatus(Rng& rng) { return PickUniform(rng, kBadStatuses); }

}  // namespace sluice::datagen
