#!/usr/bin/env bash
# Builds the example operator plugin (examples/plugin/) out of the tree, the way a user
# would: installs the SDK from a configured sluice build into a fresh prefix, configures
# and builds the standalone project against it with -DCMAKE_PREFIX_PATH, and checks the
# .so: it exists, exports the SLUICE_PLUGIN entry points, and carries no sluice code.
# Given a plugin_loader_test binary, also loads the result through the real loader.
#
#   build_out_of_tree.sh <sluice-build-dir> <sluice-source-dir> <work-dir> [plugin_loader_test]
#
# Environment: CMAKE (default cmake), CXX (compiler for the plugin; default CMake's).
# <work-dir> is deleted and recreated.
set -euo pipefail

if [[ $# -lt 3 ]]; then
  echo "usage: $0 <sluice-build-dir> <sluice-source-dir> <work-dir> [plugin_loader_test]" >&2
  exit 2
fi
build_dir=$1
source_dir=$2
work_dir=$3
loader_test=${4:-}
cmake=${CMAKE:-cmake}

fail() {
  echo "FAIL: $*" >&2
  exit 1
}

rm -rf "$work_dir"
mkdir -p "$work_dir"
prefix=$work_dir/prefix
plugin_build=$work_dir/build

echo "== installing the sluice SDK into $prefix"
"$cmake" --install "$build_dir" --prefix "$prefix" --component sdk
[[ -f $prefix/include/sluice/plugin.h ]] || fail "no include/sluice/plugin.h under $prefix (does the root CMakeLists.txt include cmake/install.cmake?)"
[[ -f $prefix/lib/cmake/sluice/sluiceConfig.cmake ]] ||
  fail "no lib/cmake/sluice/sluiceConfig.cmake under $prefix"

echo "== configuring and building examples/plugin against it"
"$cmake" -S "$source_dir/examples/plugin" -B "$plugin_build" -G Ninja \
  -DCMAKE_PREFIX_PATH="$prefix" ${CXX:+-DCMAKE_CXX_COMPILER="$CXX"}
"$cmake" --build "$plugin_build"

so=$plugin_build/libsluice_ua_device.so
[[ -f $so ]] || fail "$so was not built"

echo "== checking $so"
exported=$(nm -D --defined-only "$so")
for symbol in sluice_plugin_register sluice_plugin_api_version; do
  grep -qw "$symbol" <<<"$exported" || fail "$so does not export $symbol"
done
# No SDK code is linked in: the plugin references it, and the host provides it. (Whole
# listings in variables: with pipefail, `nm | grep -q` can fail when grep exits first.)
defined=$(nm -C --defined-only "$so")
if grep -q 'sluice::Schema::IndexOf' <<<"$defined"; then
  fail "$so contains SDK code (sluice::Schema::IndexOf); it must not link sluice_sdk"
fi
undefined=$(nm -C -D --undefined-only "$so")
grep -q 'sluice::Param::' <<<"$undefined" ||
  fail "$so does not reference the SDK (sluice::Param) as undefined symbols"
exported_count=$(grep -c ' T ' <<<"$exported" || true)
[[ $exported_count -eq 2 ]] || fail "$so exports $exported_count functions, expected only the 2 entry points"

if [[ -n $loader_test ]]; then
  [[ -x $loader_test ]] || fail "$loader_test is not built (ninja plugin_loader_test)"
  echo "== loading it with $loader_test"
  SLUICE_TEST_OUT_OF_TREE_PLUGIN=$so "$loader_test" \
    --gtest_filter=PluginLoaderTest.LoadsThePluginBuiltOutOfTree
fi
echo "PASS: out-of-tree plugin $so"
