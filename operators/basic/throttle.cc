#include "operators/basic/throttle.h"

#include <algorithm>

#include "common/status_macros.h"

namespace sluice::operators {
namespace {

class Throttle : public Operator {
 public:
  Throttle(SchemaPtr schema, double rate) : schema_(std::move(schema)), rate_(rate) {}
  SchemaPtr output_schema() const override { return schema_; }

  absl::Status Open(Context& ctx) override {
    clock_ = &ctx.clock();
    return absl::OkStatus();
  }

  absl::Status Process(int, BatchPtr batch, Collector& out) override {
    if (passed_ == 0) start_ns_ = clock_->MonotonicNs();
    passed_ += static_cast<int64_t>(batch->num_rows());
    out.Emit(std::move(batch));
    // Hold until the records passed so far fit the rate.
    const double wait_ns = std::min(static_cast<double>(passed_) / rate_ * 1e9, 1e18);  // no overflow
    const int64_t due_ns = start_ns_ + static_cast<int64_t>(wait_ns);
    clock_->SleepNs(due_ns - clock_->MonotonicNs());
    return absl::OkStatus();
  }

 private:
  SchemaPtr schema_;
  double rate_;
  int64_t passed_ = 0;
  int64_t start_ns_ = 0;
  Clock* clock_ = &SystemClock();  // the Context's, from Open
};

}  // namespace

absl::StatusOr<std::unique_ptr<Operator>> MakeThrottle(const OperatorConfig& config) {
  const Param& p = *config.params;
  RETURN_IF_ERROR(p.CheckKeys({"records_per_second"}));
  ASSIGN_OR_RETURN(double rate, p.GetDoubleOr("records_per_second", 0));
  if (!(rate > 0)) {
    const Param* v = p.Find("records_per_second");
    return v != nullptr ? v->Error("expected a number > 0") : p.MissingError("records_per_second");
  }
  if (config.input_schemas.size() != 1) return p.Error("throttle takes one input");
  return std::make_unique<Throttle>(config.input_schemas[0], rate);
}

}  // namespace sluice::operators
