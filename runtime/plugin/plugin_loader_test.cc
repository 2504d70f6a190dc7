#include "runtime/plugin/plugin_loader.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "common/testing/status_matchers.h"
#include "absl/strings/str_cat.h"
#include "operators/testing/operator_harness.h"
#include "sluice/params.h"
#include "sluice/plugin.h"

namespace sluice::runtime {
namespace {

using sluice::testing::BatchOf;
using sluice::testing::MakeSchema;
using sluice::testing::TestCollector;
using sluice::testing::TestContext;
using ::testing::AllOf;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

constexpr char kExamplePlugin[] = SLUICE_TEST_EXAMPLE_PLUGIN;
constexpr char kWrongVersionPlugin[] = SLUICE_TEST_WRONG_VERSION_PLUGIN;
constexpr char kNoSymbolsPlugin[] = SLUICE_TEST_NO_SYMBOLS_PLUGIN;
constexpr char kUndefinedSymbolPlugin[] = SLUICE_TEST_UNDEFINED_SYMBOL_PLUGIN;

absl::StatusOr<std::unique_ptr<Operator>> CreateUaDevice(const OperatorRegistry& registry,
                                                         const Param& params, SchemaPtr input) {
  const OperatorFactory* factory = registry.FindOperator("ua_device");
  if (factory == nullptr) return absl::NotFoundError("ua_device is not registered");
  OperatorConfig config;
  config.node_id = "device";
  config.params = &params;
  config.input_schemas = {std::move(input)};
  return (*factory)(config);
}

// Loads the example plugin (examples/plugin/ua_device.cc) from `path` and runs its
// operator on one batch.
void LoadAndRunExamplePlugin(const std::string& path) {
  OperatorRegistry registry;
  ASSERT_OK(LoadPlugin(path, &registry));
  ASSERT_OK_AND_ASSIGN(OperatorRegistry::Kind kind, registry.KindOf("ua_device"));
  EXPECT_EQ(kind, OperatorRegistry::Kind::kOperator);

  const SchemaPtr input = MakeSchema({{"path", Type::kString}, {"ua", Type::kString}});
  const Param params = Param::Map({{"field", Param::String("ua")}});
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Operator> op, CreateUaDevice(registry, params, input));
  EXPECT_EQ(op->output_schema()->ToString(), "path:string, ua:string, device:string");

  TestContext ctx;
  TestCollector out;
  ASSERT_OK(op->Open(ctx));
  ASSERT_OK(op->Process(
      0,
      BatchOf(input,
              {{std::string("/a"), std::string("Mozilla/5.0 (iPhone; CPU iPhone OS 16_0) Mobile")},
               {std::string("/b"), std::string("Mozilla/5.0 (iPad; CPU OS 16_0)")},
               {std::string("/c"), std::string("Mozilla/5.0 (Linux; Android 13; Pixel 7)")},
               {std::string("/d"), std::string("Mozilla/5.0 (Windows NT 10.0; Win64; x64)")},
               {std::string("/e"), std::string("Mozilla/5.0 (compatible; Googlebot/2.1)")},
               {std::string("/f"), std::string("-")},
               {std::string("/g"), std::monostate()}},
              {1, 2, 3, 4, 5, 6, 7}),
      out));
  ASSERT_OK(op->Close());
  EXPECT_THAT(out.RowsAsJson(),
              ElementsAre(AllOf(HasSubstr(R"("path":"/a",)"), HasSubstr(R"("device":"mobile"})")),
                          HasSubstr(R"("device":"tablet"})"),
                          HasSubstr(R"("device":"tablet"})"),  // Android without "Mobile"
                          HasSubstr(R"("device":"desktop"})"), HasSubstr(R"("device":"bot"})"),
                          R"({"path":"/f","ua":"-","device":null})",
                          R"({"path":"/g","ua":null,"device":null})"));
  ASSERT_EQ(out.batches.size(), 1u);
  EXPECT_THAT(out.batches[0]->timestamps(), ElementsAre(1, 2, 3, 4, 5, 6, 7));
}

TEST(PluginLoaderTest, LoadsTheExamplePluginAndRunsItsOperator) {
  LoadAndRunExamplePlugin(kExamplePlugin);
}

// tests/plugin/build_out_of_tree.sh runs this with the example built against the
// installed CMake package.
TEST(PluginLoaderTest, LoadsThePluginBuiltOutOfTree) {
  const char* path = std::getenv("SLUICE_TEST_OUT_OF_TREE_PLUGIN");
  if (path == nullptr) GTEST_SKIP() << "SLUICE_TEST_OUT_OF_TREE_PLUGIN is not set";
  LoadAndRunExamplePlugin(path);
}

TEST(PluginLoaderTest, ExampleOperatorRejectsBadParams) {
  OperatorRegistry registry;
  ASSERT_OK(LoadPlugin(kExamplePlugin, &registry));
  const SchemaPtr input = MakeSchema({{"ua", Type::kString}, {"status", Type::kInt64}});

  const Param unknown_field = Param::Map({{"field", Param::String("user_agent")}});
  absl::StatusOr<std::unique_ptr<Operator>> op = CreateUaDevice(registry, unknown_field, input);
  EXPECT_EQ(op.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(op.status().message(), HasSubstr("unknown field 'user_agent'"));

  const Param not_a_string = Param::Map({{"field", Param::String("status")}});
  op = CreateUaDevice(registry, not_a_string, input);
  EXPECT_THAT(op.status().message(), HasSubstr("'status' is int64"));

  const Param unknown_key = Param::Map({{"field", Param::String("ua")}, {"fields", Param::Null()}});
  op = CreateUaDevice(registry, unknown_key, input);
  EXPECT_EQ(op.status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(PluginLoaderTest, LoadsOnePluginIntoSeveralRegistries) {
  OperatorRegistry first;
  OperatorRegistry second;
  ASSERT_OK(LoadPlugin(kExamplePlugin, &first));
  ASSERT_OK(LoadPlugin(kExamplePlugin, &second));
  EXPECT_NE(first.FindOperator("ua_device"), nullptr);
  EXPECT_NE(second.FindOperator("ua_device"), nullptr);

  // Registering twice into one registry fails with the registry's own code.
  const absl::Status again = LoadPlugin(kExamplePlugin, &first);
  EXPECT_EQ(again.code(), absl::StatusCode::kAlreadyExists);
  EXPECT_THAT(again.message(), HasSubstr(kExamplePlugin));
  EXPECT_THAT(again.message(), HasSubstr("'ua_device' is already registered"));
}

TEST(PluginLoaderTest, RefusesAPluginBuiltForAnotherApiVersion) {
  OperatorRegistry registry;
  const absl::Status status = LoadPlugin(kWrongVersionPlugin, &registry);
  EXPECT_EQ(status.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(status.message(), HasSubstr(kWrongVersionPlugin));
  EXPECT_THAT(status.message(), HasSubstr("built for sluice operator API version 999"));
  EXPECT_THAT(status.message(), HasSubstr(absl::StrCat("this sluice supports version ", SLUICE_PLUGIN_API_VERSION)));
  EXPECT_THAT(status.message(), HasSubstr("rebuild it"));
  EXPECT_TRUE(registry.Types().empty());
}

TEST(PluginLoaderTest, RefusesASharedObjectWithoutEntryPoints) {
  OperatorRegistry registry;
  const absl::Status status = LoadPlugin(kNoSymbolsPlugin, &registry);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr(kNoSymbolsPlugin));
  EXPECT_THAT(status.message(), HasSubstr("missing symbol sluice_plugin_api_version"));
  EXPECT_THAT(status.message(), HasSubstr("SLUICE_PLUGIN"));
}

TEST(PluginLoaderTest, RefusesAPluginWithAnUndefinedSymbol) {
  OperatorRegistry registry;
  const absl::Status status = LoadPlugin(kUndefinedSymbolPlugin, &registry);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr(kUndefinedSymbolPlugin));
  EXPECT_THAT(status.message(), HasSubstr("undefined symbol: sluice_test_no_such_function"));
}

TEST(PluginLoaderTest, RefusesAMissingFile) {
  OperatorRegistry registry;
  const std::string path = ::testing::TempDir() + "no_such_plugin.so";
  const absl::Status status = LoadPlugin(path, &registry);
  EXPECT_EQ(status.code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(status.message(), HasSubstr(path));
}

TEST(PluginLoaderTest, RefusesAFileThatIsNotASharedObject) {
  OperatorRegistry registry;
  const std::string path = ::testing::TempDir() + "plugin_loader_test_not_elf.so";
  std::ofstream(path) << "not a shared object\n";
  const absl::Status status = LoadPlugin(path, &registry);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr(path));
  EXPECT_THAT(status.message(), HasSubstr("cannot load"));
}

}  // namespace
}  // namespace sluice::runtime
