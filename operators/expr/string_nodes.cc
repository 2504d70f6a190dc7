// String function nodes: contains / starts_with / ends_with (a constant needle runs as one
// loop), regex_match (RE2, compiled once), lower / upper, length, substr and concat.
#include <algorithm>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "common/strings.h"
#include "operators/expr/conversions_internal.h"
#include "operators/expr/eval_internal.h"
#include "operators/expr/nodes_internal.h"
#include "re2/re2.h"

namespace sluice::operators::expr {
namespace internal {

namespace {

template <typename F>
void WithStrFn(StrFn fn, F&& f) {
  switch (fn) {
    case StrFn::kContains:
      f([](std::string_view s, std::string_view x) { return s.find(x) != std::string_view::npos; });
      return;
    case StrFn::kStartsWith:
      f([](std::string_view s, std::string_view x) { return s.starts_with(x); });
      return;
    case StrFn::kEndsWith:
      f([](std::string_view s, std::string_view x) { return s.ends_with(x); });
      return;
  }
}

// contains / starts_with / ends_with; with a constant needle, a tight loop.
class StrPredicateNode final : public Node {
 public:
  StrPredicateNode(StrFn fn, NodePtr s, NodePtr needle)
      : Node(Type::kBool), fn_(fn), s_(std::move(s)), needle_(std::move(needle)) {
    if (const LiteralNode* lit = AsLiteral(needle_.get())) {
      constant_ = true;
      owned_ = lit->string_value();
    }
  }

  Vec Eval(const EvalContext& ctx) override {
    const EvalContext c = ctx.Consuming();
    const Vec a = s_->Eval(c);
    const size_t n = ctx.n;
    buf_.ints.resize(n);
    int64_t* o = buf_.ints.data();
    const std::string_view* x = a.strings;
    if (constant_) {
      const std::string_view needle = owned_;
      WithStrFn(fn_, [&](auto test) {
        for (size_t i = 0; i < n; ++i) o[i] = test(x[i], needle);
      });
      return MakeVec<int64_t>(o, a.nulls);
    }
    const Vec b = needle_->Eval(c);
    const std::string_view* y = b.strings;
    WithStrFn(fn_, [&](auto test) {
      for (size_t i = 0; i < n; ++i) o[i] = test(x[i], y[i]);
    });
    return MakeVec<int64_t>(o, OrNulls(a.nulls, b.nulls, n, &buf_.nulls));
  }

  void Select(const EvalContext& ctx, RowSet in, std::vector<uint32_t>* out) override {
    if (!constant_) {
      Node::Select(ctx, in, out);
      return;
    }
    const Vec a = s_->Eval(ctx.Consuming());
    const std::string_view* x = a.strings;
    const std::string_view needle = owned_;
    WithStrFn(fn_, [&](auto test) {
      if (a.nulls != nullptr) {
        const uint8_t* nl = a.nulls;
        SelectWhere(in, out, [&](uint32_t i) { return (nl[i] == 0) & test(x[i], needle); });
      } else {
        SelectWhere(in, out, [&](uint32_t i) { return test(x[i], needle); });
      }
    });
  }

 private:
  StrFn fn_;
  NodePtr s_;
  NodePtr needle_;
  bool constant_ = false;
  std::string owned_;
  Column buf_;
};

// regex_match(s, "re"): RE2 partial match (anchor with ^ and $ for a full match).
class RegexNode final : public Node {
 public:
  RegexNode(NodePtr s, std::unique_ptr<RE2> re)
      : Node(Type::kBool), s_(std::move(s)), re_(std::move(re)) {}

  Vec Eval(const EvalContext& ctx) override {
    const Vec a = s_->Eval(ctx.Consuming());
    buf_.resize(ctx.n);
    for (size_t i = 0; i < ctx.n; ++i) buf_[i] = Match(a.strings[i]);
    return MakeVec<int64_t>(buf_.data(), a.nulls);
  }

  void Select(const EvalContext& ctx, RowSet in, std::vector<uint32_t>* out) override {
    const Vec a = s_->Eval(ctx.Consuming());
    const uint8_t* nl = a.nulls;
    SelectWhere(in, out, [&](uint32_t i) {
      return (nl == nullptr || nl[i] == 0) && Match(a.strings[i]);
    });
  }

 private:
  bool Match(std::string_view s) const {
    return RE2::PartialMatch(re2::StringPiece(s.data(), s.size()), *re_);
  }

  NodePtr s_;
  std::unique_ptr<RE2> re_;
  std::vector<int64_t> buf_;
};

// lower(s) / upper(s), ASCII letters only. A value with nothing to change is passed
// through as a view of its input instead of being copied.
class CaseNode final : public Node {
 public:
  CaseNode(bool upper, NodePtr s) : Node(Type::kString), upper_(upper), s_(std::move(s)) {}

  Vec Eval(const EvalContext& ctx) override {
    const Vec a = s_->Eval(ctx);
    buf_.resize(ctx.n);
    const char lo = upper_ ? 'a' : 'A';
    const char hi = upper_ ? 'z' : 'Z';
    for (size_t i = 0; i < ctx.n; ++i) {
      const std::string_view s = a.strings[i];
      size_t k = 0;
      while (k < s.size() && (s[k] < lo || s[k] > hi)) ++k;
      if (k == s.size()) {
        buf_[i] = s;
        continue;
      }
      char* p = ctx.arena->Allocate(s.size());
      std::memcpy(p, s.data(), k);
      for (; k < s.size(); ++k) {
        const char ch = s[k];
        p[k] = (ch >= lo && ch <= hi) ? static_cast<char>(ch ^ 0x20) : ch;
      }
      buf_[i] = std::string_view(p, s.size());
    }
    return MakeVec<std::string_view>(buf_.data(), a.nulls);
  }
  bool ReferencesInput() const override { return s_->ReferencesInput(); }

 private:
  bool upper_;
  NodePtr s_;
  std::vector<std::string_view> buf_;
};

// length(s): UTF-8 code points.
class LengthNode final : public Node {
 public:
  explicit LengthNode(NodePtr s) : Node(Type::kInt64), s_(std::move(s)) {}

  Vec Eval(const EvalContext& ctx) override {
    const Vec a = s_->Eval(ctx.Consuming());
    buf_.resize(ctx.n);
    for (size_t i = 0; i < ctx.n; ++i) buf_[i] = static_cast<int64_t>(Utf8Length(a.strings[i]));
    return MakeVec<int64_t>(buf_.data(), a.nulls);
  }

 private:
  NodePtr s_;
  std::vector<int64_t> buf_;
};

// substr(s, start[, len]) in code points; start is 0-based, negative counts from the
// end. The result is a view of the input value.
class SubstrNode final : public Node {
 public:
  SubstrNode(NodePtr s, NodePtr start, NodePtr len)
      : Node(Type::kString), s_(std::move(s)), start_(std::move(start)), len_(std::move(len)) {}

  Vec Eval(const EvalContext& ctx) override {
    const size_t n = ctx.n;
    const Vec a = s_->Eval(ctx);
    const Vec st = start_->Eval(ctx.Consuming());
    Vec ln;
    if (len_ != nullptr) ln = len_->Eval(ctx.Consuming());
    const uint8_t* nulls = OrNulls(a.nulls, st.nulls, n, &nulls1_);
    nulls = OrNulls(nulls, ln.nulls, n, &nulls2_);
    buf_.resize(n);
    for (size_t i = 0; i < n; ++i) {
      if (nulls != nullptr && nulls[i]) {
        buf_[i] = std::string_view();
        continue;
      }
      const std::string_view s = a.strings[i];
      int64_t start = st.ints[i];
      if (start < 0) start = std::max<int64_t>(0, start + static_cast<int64_t>(Utf8Length(s)));
      const size_t b = Utf8Skip(s, 0, start);
      size_t e = s.size();
      if (len_ != nullptr) e = ln.ints[i] <= 0 ? b : Utf8Skip(s, b, ln.ints[i]);
      buf_[i] = s.substr(b, e - b);
    }
    return MakeVec<std::string_view>(buf_.data(), nulls);
  }
  bool ReferencesInput() const override { return s_->ReferencesInput(); }

 private:
  NodePtr s_, start_, len_;
  std::vector<std::string_view> buf_;
  std::vector<uint8_t> nulls1_, nulls2_;
};

// concat(a, b, ...): null if any argument is null.
class ConcatNode final : public Node {
 public:
  explicit ConcatNode(std::vector<NodePtr> args) : Node(Type::kString), args_(std::move(args)) {}

  Vec Eval(const EvalContext& ctx) override {
    const size_t n = ctx.n;
    vecs_.clear();
    const uint8_t* nulls = nullptr;
    for (size_t k = 0; k < args_.size(); ++k) {
      vecs_.push_back(args_[k]->Eval(ctx.Consuming()));
      nulls = OrNulls(nulls, vecs_.back().nulls, n, &nulls_[k % 2]);
    }
    buf_.resize(n);
    for (size_t i = 0; i < n; ++i) {
      size_t len = 0;
      for (const Vec& v : vecs_) len += v.strings[i].size();
      if ((nulls != nullptr && nulls[i]) || len == 0) {
        buf_[i] = std::string_view();
        continue;
      }
      char* p = ctx.arena->Allocate(len);
      size_t off = 0;
      for (const Vec& v : vecs_) {
        const std::string_view part = v.strings[i];
        if (part.empty()) continue;
        std::memcpy(p + off, part.data(), part.size());
        off += part.size();
      }
      buf_[i] = std::string_view(p, len);
    }
    return MakeVec<std::string_view>(buf_.data(), nulls);
  }

 private:
  std::vector<NodePtr> args_;
  std::vector<Vec> vecs_;
  std::vector<uint8_t> nulls_[2];
  std::vector<std::string_view> buf_;
};

}  // namespace

NodePtr MakeStrPredicateNode(StrFn fn, NodePtr s, NodePtr needle) {
  return std::make_unique<StrPredicateNode>(fn, std::move(s), std::move(needle));
}

NodePtr MakeRegexNode(NodePtr s, std::unique_ptr<RE2> re) {
  return std::make_unique<RegexNode>(std::move(s), std::move(re));
}

NodePtr MakeCaseNode(bool upper, NodePtr s) { return std::make_unique<CaseNode>(upper, std::move(s)); }

NodePtr MakeLengthNode(NodePtr s) { return std::make_unique<LengthNode>(std::move(s)); }

NodePtr MakeSubstrNode(NodePtr s, NodePtr start, NodePtr len) {
  return std::make_unique<SubstrNode>(std::move(s), std::move(start), std::move(len));
}

NodePtr MakeConcatNode(std::vector<NodePtr> args) {
  return std::make_unique<ConcatNode>(std::move(args));
}

}  // namespace internal
}  // namespace sluice::operators::expr
