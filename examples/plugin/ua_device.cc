// An example operator plugin for log pipelines: `ua_device` classifies each record's
// user agent as mobile, tablet, desktop or bot, by simple substring rules.
//
//   - id: device
//     type: ua_device
//     input: parse
//     field: user_agent      # the string field to read (default user_agent)
//     output: device         # the string field appended (default device)
//
// Every input field is kept, in order; the output field comes last. A null, empty or
// "-" user agent (nginx logs "-" when there is none) gives a null device. The rules, on
// the lower-cased user agent, first match wins:
//   bot      bot, crawl, spider, slurp, curl/, wget/, python-requests, headless
//   tablet   ipad, tablet, kindle, silk/, playbook; or android without "mobile"
//   mobile   mobi, iphone, ipod, android, windows phone, blackberry, opera mini
//   desktop  anything else
//
// It uses only the public SDK (include/sluice/). Everything but the SLUICE_PLUGIN block
// sits in an anonymous namespace: a plugin's own names are its business.
#include <cstddef>
#include <initializer_list>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "sluice/operator.h"
#include "sluice/params.h"
#include "sluice/plugin.h"
#include "sluice/record.h"

namespace {

using sluice::BatchPtr;
using sluice::Collector;
using sluice::Column;
using sluice::Field;
using sluice::Operator;
using sluice::OperatorConfig;
using sluice::Param;
using sluice::RecordBatch;
using sluice::Schema;
using sluice::SchemaPtr;
using sluice::Type;

// The output strings point at these constants: a plugin is never unloaded.
constexpr std::string_view kBot = "bot";
constexpr std::string_view kTablet = "tablet";
constexpr std::string_view kMobile = "mobile";
constexpr std::string_view kDesktop = "desktop";

bool ContainsAny(std::string_view text, std::initializer_list<std::string_view> words) {
  for (std::string_view word : words) {
    if (text.find(word) != std::string_view::npos) return true;
  }
  return false;
}

// `lower` is scratch space, reused across calls.
std::string_view Classify(std::string_view user_agent, std::string* lower) {
  lower->assign(user_agent);
  for (char& c : *lower) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  const std::string_view ua = *lower;
  if (ContainsAny(ua, {"bot", "crawl", "spider", "slurp", "curl/", "wget/", "python-requests",
                       "headless"})) {
    return kBot;
  }
  if (ContainsAny(ua, {"ipad", "tablet", "kindle", "silk/", "playbook"}) ||
      (ua.find("android") != std::string_view::npos &&
       ua.find("mobile") == std::string_view::npos)) {
    return kTablet;
  }
  if (ContainsAny(
          ua, {"mobi", "iphone", "ipod", "android", "windows phone", "blackberry", "opera mini"})) {
    return kMobile;
  }
  return kDesktop;
}

class UaDeviceOperator final : public Operator {
 public:
  // INVALID_ARGUMENT, located at the param, for an unknown param key, more or fewer than
  // one input, a missing or non-string `field`, or an `output` the input already has.
  static absl::StatusOr<std::unique_ptr<Operator>> Create(const OperatorConfig& config) {
    const Param& params = *config.params;
    if (absl::Status st = params.CheckKeys({"field", "output"}); !st.ok()) return st;
    if (config.input_schemas.size() != 1) {
      return params.Error(
          absl::StrCat("ua_device takes exactly one input, got ", config.input_schemas.size()));
    }
    absl::StatusOr<std::string> field = params.GetStringOr("field", "user_agent");
    if (!field.ok()) return field.status();
    absl::StatusOr<std::string> output = params.GetStringOr("output", "device");
    if (!output.ok()) return output.status();

    const Schema& input = *config.input_schemas[0];
    const Param* field_param = params.Find("field");
    const Param& where = field_param != nullptr ? *field_param : params;
    const int index = input.IndexOf(*field);
    if (index < 0) {
      return where.Error(
          absl::StrCat("unknown field '", *field, "'; input fields are: ", input.ToString()));
    }
    if (input.field(index).type != Type::kString) {
      return where.Error(absl::StrCat("field '", *field, "' is ",
                                      std::string(sluice::TypeName(input.field(index).type)),
                                      "; ua_device needs a string"));
    }
    if (input.IndexOf(*output) >= 0) {
      const Param* output_param = params.Find("output");
      return (output_param != nullptr ? *output_param : params)
          .Error(absl::StrCat("the input already has a field '", *output,
                              "'; choose another name with `output`"));
    }

    auto op = std::unique_ptr<UaDeviceOperator>(new UaDeviceOperator());
    op->field_ = index;
    std::vector<Field> fields = input.fields();
    fields.push_back({*output, Type::kString});
    op->schema_ = std::make_shared<Schema>(std::move(fields));
    return std::unique_ptr<Operator>(std::move(op));
  }

  SchemaPtr output_schema() const override { return schema_; }

  // Moves every input column into the output batch and appends the device column.
  absl::Status Process(int /*input*/, BatchPtr in, Collector& out) override {
    const size_t n = in->num_rows();
    if (n == 0) return absl::OkStatus();
    BatchPtr batch = out.NewBatch(schema_);
    RecordBatch& o = *batch;
    const int num_inputs = in->num_columns();

    const Column& ua = in->column(field_);
    Column& device = o.column(num_inputs);
    device.strings.reserve(n);
    for (size_t row = 0; row < n; ++row) {
      const std::string_view value = ua.strings[row];
      if (ua.IsNull(row) || value.empty() || value == "-") {
        device.strings.emplace_back();
        device.SetNull(row, n);
      } else {
        device.strings.push_back(Classify(value, &lower_));
      }
    }

    for (int c = 0; c < num_inputs; ++c) std::swap(o.column(c), in->column(c));
    o.timestamps().swap(in->timestamps());
    o.set_num_rows(n);
    o.AdoptMemory(*in);  // the moved strings still point into the input's memory
    out.Emit(std::move(batch));
    return absl::OkStatus();
  }

 private:
  UaDeviceOperator() = default;

  int field_ = -1;
  SchemaPtr schema_;
  std::string lower_;
};

}  // namespace

SLUICE_PLUGIN(registry) {
  return registry.RegisterOperator(
      "ua_device", UaDeviceOperator::Create,
      "Appends the device class (mobile, tablet, desktop, bot) of a user agent. "
      "Params: field (default user_agent), output (default device).");
}
