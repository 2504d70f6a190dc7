// Comparison nodes and their kernels: == != < <= > >= between two computed values, the
// fast path of a value against a constant (branch-free string equality in
// ConstantString), and `x [not] in (constants...)`.
#include <cstdint>
#include <cstring>
#include <functional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/string_view.h"
#include "operators/expr/conversions_internal.h"
#include "operators/expr/eval_internal.h"
#include "operators/expr/nodes_internal.h"

namespace sluice::operators::expr {
namespace internal {

namespace {

template <typename W>
W Load(const char* p) {
  W w;
  std::memcpy(&w, p, sizeof(W));
  return w;
}

// A string constant compared for equality without data-dependent branches (for
// constants of up to 16 bytes): two overlapping fixed-size loads, taken from the constant
// itself when the lengths differ so that they never read past the value.
class ConstantString {
 public:
  enum class Kind { kEmpty, kBytes, kWords4, kWords8, kLong };

  // The test for one kind, holding copies of what it needs (so that a loop keeps them
  // in registers instead of reloading them around its stores).
  template <Kind K>
  struct Matcher {
    const char* s;
    size_t n;
    uint64_t a, b;

    bool operator()(std::string_view x) const {
      const bool same = x.size() == n;
      if constexpr (K == Kind::kEmpty) {
        return same;
      } else {
        // p = same ? x.data() : s, without a branch.
        const uintptr_t mask = 0 - static_cast<uintptr_t>(same);
        const char* p = reinterpret_cast<const char*>(
            (reinterpret_cast<uintptr_t>(x.data()) & mask) | (reinterpret_cast<uintptr_t>(s) & ~mask));
        if constexpr (K == Kind::kBytes) {
          return same & (p[0] == s[0]) & (p[n / 2] == s[n / 2]) & (p[n - 1] == s[n - 1]);
        } else if constexpr (K == Kind::kWords4) {
          return same & (Load<uint32_t>(p) == a) & (Load<uint32_t>(p + n - 4) == b);
        } else if constexpr (K == Kind::kWords8) {
          return same & (Load<uint64_t>(p) == a) & (Load<uint64_t>(p + n - 8) == b);
        } else {
          return same && std::memcmp(p, s, n) == 0;
        }
      }
    }
  };

  explicit ConstantString(std::string s = "") : s_(std::move(s)) {
    const size_t n = s_.size();
    if (n == 0) {
      kind_ = Kind::kEmpty;
    } else if (n < 4) {
      kind_ = Kind::kBytes;
    } else if (n <= 8) {
      kind_ = Kind::kWords4;
      a_ = Load<uint32_t>(s_.data());
      b_ = Load<uint32_t>(s_.data() + n - 4);
    } else if (n <= 16) {
      kind_ = Kind::kWords8;
      a_ = Load<uint64_t>(s_.data());
      b_ = Load<uint64_t>(s_.data() + n - 8);
    } else {
      kind_ = Kind::kLong;
    }
  }

  std::string_view view() const { return s_; }

  bool Equals(std::string_view x) const {
    bool result = false;
    WithEquals([&](auto eq) { result = eq(x); });
    return result;
  }

  // Calls f with the Matcher (a `bool(std::string_view)` functor) for this constant.
  template <typename F>
  void WithEquals(F&& f) const {
    switch (kind_) {
      case Kind::kEmpty: f(Make<Kind::kEmpty>()); return;
      case Kind::kBytes: f(Make<Kind::kBytes>()); return;
      case Kind::kWords4: f(Make<Kind::kWords4>()); return;
      case Kind::kWords8: f(Make<Kind::kWords8>()); return;
      case Kind::kLong: f(Make<Kind::kLong>()); return;
    }
  }

 private:
  template <Kind K>
  Matcher<K> Make() const {
    return Matcher<K>{s_.data(), s_.size(), a_, b_};
  }

  std::string s_;
  Kind kind_ = Kind::kEmpty;
  uint64_t a_ = 0, b_ = 0;
};

// Calls f with the comparison functor of `op`, so the loop inside f is specialized.
template <typename F>
void WithCmp(CmpOp op, F&& f) {
  switch (op) {
    case CmpOp::kEq: f(std::equal_to<>()); return;
    case CmpOp::kNe: f(std::not_equal_to<>()); return;
    case CmpOp::kLt: f(std::less<>()); return;
    case CmpOp::kLe: f(std::less_equal<>()); return;
    case CmpOp::kGt: f(std::greater<>()); return;
    case CmpOp::kGe: f(std::greater_equal<>()); return;
  }
}

// Two computed operands of the same storage.
class CompareNode final : public Node {
 public:
  CompareNode(CmpOp op, NodePtr l, NodePtr r)
      : Node(Type::kBool), op_(op), l_(std::move(l)), r_(std::move(r)) {}

  Vec Eval(const EvalContext& ctx) override {
    const EvalContext c = ctx.Consuming();
    const Vec a = l_->Eval(c);
    const Vec b = r_->Eval(c);
    const size_t n = ctx.n;
    buf_.ints.resize(n);
    int64_t* o = buf_.ints.data();
    WithStorage(l_->type(), [&](auto tag) {
      using T = decltype(tag);
      const T* x = Values<T>(a);
      const T* y = Values<T>(b);
      WithCmp(op_, [&](auto cmp) {
        for (size_t i = 0; i < n; ++i) o[i] = cmp(x[i], y[i]);
      });
    });
    return MakeVec<int64_t>(o, OrNulls(a.nulls, b.nulls, n, &buf_.nulls));
  }

 private:
  CmpOp op_;
  NodePtr l_;
  NodePtr r_;
  Column buf_;
};

// A computed operand against a constant: the fast path (`event_type == "view"`,
// `status >= 500`) — one tight loop over the column, with no materialized constant.
template <typename T>
class CompareScalarNode final : public Node {
 public:
  CompareScalarNode(CmpOp op, NodePtr child, const LiteralNode& scalar)
      : Node(Type::kBool), op_(op), child_(std::move(child)) {
    if constexpr (std::is_same_v<T, std::string_view>) {
      constant_ = ConstantString(scalar.string_value());
      scalar_ = constant_.view();
    } else {
      scalar_ = scalar.value<T>();
    }
  }

  Vec Eval(const EvalContext& ctx) override {
    const Vec a = child_->Eval(ctx.Consuming());
    const size_t n = ctx.n;
    buf_.resize(n);
    int64_t* o = buf_.data();
    const T* x = Values<T>(a);
    const T s = scalar_;
    if constexpr (std::is_same_v<T, std::string_view>) {
      if (op_ == CmpOp::kEq || op_ == CmpOp::kNe) {
        const bool ne = op_ == CmpOp::kNe;
        constant_.WithEquals([&](auto eq) {
          for (size_t i = 0; i < n; ++i) o[i] = eq(x[i]) != ne;
        });
        return MakeVec<int64_t>(o, a.nulls);
      }
    }
    WithCmp(op_, [&](auto cmp) {
      for (size_t i = 0; i < n; ++i) o[i] = cmp(x[i], s);
    });
    return MakeVec<int64_t>(o, a.nulls);
  }

  void Select(const EvalContext& ctx, RowSet in, std::vector<uint32_t>* out) override {
    const Vec a = child_->Eval(ctx.Consuming());
    const T* x = Values<T>(a);
    const T s = scalar_;
    if constexpr (std::is_same_v<T, std::string_view>) {
      if (op_ == CmpOp::kEq || op_ == CmpOp::kNe) {
        const bool ne = op_ == CmpOp::kNe;
        constant_.WithEquals([&](auto eq) {
          if (a.nulls != nullptr) {
            const uint8_t* nl = a.nulls;
            SelectWhere(in, out, [&, eq](uint32_t i) { return (nl[i] == 0) & (eq(x[i]) != ne); });
          } else {
            SelectWhere(in, out, [&, eq](uint32_t i) { return eq(x[i]) != ne; });
          }
        });
        return;
      }
    }
    WithCmp(op_, [&](auto cmp) {
      if (a.nulls != nullptr) {
        const uint8_t* nl = a.nulls;
        SelectWhere(in, out, [&](uint32_t i) { return (nl[i] == 0) & cmp(x[i], s); });
      } else {
        SelectWhere(in, out, [&](uint32_t i) { return cmp(x[i], s); });
      }
    });
  }

 private:
  CmpOp op_;
  NodePtr child_;
  ConstantString constant_;  // strings only
  T scalar_{};
  std::vector<int64_t> buf_;
};
template <typename T>
class InNode final : public Node {
 public:
  using Key = std::conditional_t<std::is_same_v<T, std::string_view>, absl::string_view, T>;
  static constexpr size_t kLinearMax = 8;

  InNode(NodePtr child, const std::vector<const LiteralNode*>& items, bool negate)
      : Node(Type::kBool), child_(std::move(child)), negate_(negate) {
    constants_.reserve(items.size());  // items_ views into them: no reallocation
    for (const LiteralNode* item : items) {
      if (item->is_null()) {
        has_null_ = true;
      } else if constexpr (std::is_same_v<T, std::string_view>) {
        constants_.emplace_back(item->string_value());
      } else {
        items_.push_back(item->value<T>());
      }
    }
    if constexpr (std::is_same_v<T, std::string_view>) {
      for (const ConstantString& c : constants_) items_.push_back(c.view());
    }
    if (items_.size() > kLinearMax) {
      for (const T& v : items_) set_.insert(ToKey(v));
    }
  }

  Vec Eval(const EvalContext& ctx) override {
    const Vec a = child_->Eval(ctx.Consuming());
    const size_t n = ctx.n;
    const T* x = Values<T>(a);
    buf_.ints.resize(n);
    int64_t* o = buf_.ints.data();
    WithContains([&](auto contains) {
      for (size_t i = 0; i < n; ++i) o[i] = contains(x[i]);
    });
    if (!has_null_) {
      if (negate_) {
        for (size_t i = 0; i < n; ++i) o[i] ^= 1;
      }
      return MakeVec<int64_t>(o, a.nulls);
    }
    // A non-match is null; a match is true for `in`, false for `not in`.
    uint8_t* nl = StartNulls(a.nulls, nullptr, n, &buf_.nulls);
    for (size_t i = 0; i < n; ++i) {
      nl[i] |= o[i] == 0;
      o[i] = nl[i] ? 0 : !negate_;
    }
    return MakeVec<int64_t>(o, nl);
  }

  void Select(const EvalContext& ctx, RowSet in, std::vector<uint32_t>* out) override {
    if (has_null_ && negate_) {  // never true
      out->clear();
      return;
    }
    const Vec a = child_->Eval(ctx.Consuming());
    const T* x = Values<T>(a);
    const bool want = !negate_;
    WithContains([&](auto contains) {
      if (a.nulls != nullptr) {
        const uint8_t* nl = a.nulls;
        SelectWhere(in, out, [&](uint32_t i) { return (nl[i] == 0) & (contains(x[i]) == want); });
      } else {
        SelectWhere(in, out, [&](uint32_t i) { return contains(x[i]) == want; });
      }
    });
  }

 private:
  static Key ToKey(T v) {
    if constexpr (std::is_same_v<T, std::string_view>) {
      return Sv(v);
    } else {
      return v;
    }
  }
  // Calls f with the membership test: a hash set for long lists, else a linear scan
  // without early exit (no data-dependent branch).
  template <typename F>
  void WithContains(F&& f) const {
    if (items_.size() > kLinearMax) {
      f([this](T v) { return set_.contains(ToKey(v)); });
    } else if constexpr (std::is_same_v<T, std::string_view>) {
      f([this](T v) {
        bool found = false;
        for (const ConstantString& c : constants_) found |= c.Equals(v);
        return found;
      });
    } else {
      f([this](T v) {
        bool found = false;
        for (const T& item : items_) found |= item == v;
        return found;
      });
    }
  }

  NodePtr child_;
  bool negate_;
  bool has_null_ = false;
  std::vector<ConstantString> constants_;  // strings only
  std::vector<T> items_;
  absl::flat_hash_set<Key> set_;
  Column buf_;
};

}  // namespace

NodePtr MakeCompareNode(CmpOp op, NodePtr l, NodePtr r) {
  return std::make_unique<CompareNode>(op, std::move(l), std::move(r));
}

NodePtr MakeCompareScalarNode(CmpOp op, NodePtr child, const LiteralNode& scalar) {
  NodePtr node;
  WithStorage(child->type(), [&](auto tag) {
    using T = decltype(tag);
    node = std::make_unique<CompareScalarNode<T>>(op, std::move(child), scalar);
  });
  return node;
}

NodePtr MakeInNode(NodePtr child, const std::vector<const LiteralNode*>& items, bool negate) {
  NodePtr node;
  WithStorage(child->type(), [&](auto tag) {
    using T = decltype(tag);
    node = std::make_unique<InNode<T>>(std::move(child), items, negate);
  });
  return node;
}

}  // namespace internal
}  // namespace sluice::operators::expr
