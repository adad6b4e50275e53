#!/usr/bin/env bash
# Build the kernel's generic_pt vtdss (or x86_64) code (unmodified, from --src) with ./shim
# and bench.c into a build directory outside the repo, then run the benchmark.
#
#   run.sh [--format vtdss|x86_64] [--src DIR] [--build DIR] [--debug-pt] [--build-only] [bench args...]
#
# --format F    vtdss (default: VT-d second stage, cases vtd-sl/..., binary bench) or x86_64
#               (x86-64 first level as the VT-d first-stage domain, cases x86-fl/..., binary
#               bench-x86_64; bench.c built with -DKBENCH_FMT_X86_64)
# --src DIR     kernel sources laid out as in the kernel tree (default /work/kbench-src/vtd):
#               DIR/drivers/iommu/generic_pt/{iommu_pt.h,pt_*.h,fmt/...} and
#               DIR/include/linux/generic_pt/{common.h,iommu.h}
# --build DIR   where objects and the binary go (default /tmp/kbench-vtd-build)
# --debug-pt    also define CONFIG_DEBUG_GENERIC_PT (kernel self-checks on; a correctness
#               build, not for timing)
# --build-only  compile, do not run
# Bench args: see `run.sh --help` (passed to the binary), e.g. --quick, --cases map-4k,unmap-4k,
# --warmup N --measured N --iter-ms MS, --cpu-clock, --no-fork.
# Environment: CC (default /usr/bin/gcc), EXTRA_CFLAGS (appended), TASKSET (e.g. "taskset -c 1").
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
src=/work/kbench-src/vtd
build=/tmp/kbench-vtd-build
debug_pt=0
fmt=vtdss
build_only=0
args=()
while [ $# -gt 0 ]; do
    case "$1" in
        --format) fmt="$2"; shift 2 ;;
        --format=*) fmt="${1#--format=}"; shift ;;
        --src) src="$2"; shift 2 ;;
        --build) build="$2"; shift 2 ;;
        --debug-pt) debug_pt=1; shift ;;
        --build-only) build_only=1; shift ;;
        *) args+=("$1"); shift ;;
    esac
done

case "$fmt" in
    vtdss) fmt_def=(); bin_name=bench ;;
    x86_64) fmt_def=(-DKBENCH_FMT_X86_64=1); bin_name=bench-x86_64 ;;
    *) echo "run.sh: --format must be vtdss or x86_64, not '$fmt'" >&2; exit 2 ;;
esac

cc="${CC:-/usr/bin/gcc}"
gpt="$src/drivers/iommu/generic_pt"
for f in iommu_pt.h pt_iter.h pt_defs.h pt_common.h pt_fmt_defaults.h pt_log2.h \
         "fmt/$fmt.h" "fmt/iommu_$fmt.c" fmt/iommu_template.h "fmt/defs_$fmt.h"; do
    [ -f "$gpt/$f" ] || { echo "run.sh: missing $gpt/$f" >&2; exit 2; }
done
for f in common.h iommu.h; do
    [ -f "$src/include/linux/generic_pt/$f" ] || { echo "run.sh: missing $src/include/linux/generic_pt/$f" >&2; exit 2; }
done
case "$build" in
    "$here"|"$here"/*) echo "run.sh: the build directory must be outside the repo" >&2; exit 2 ;;
esac

# Kernel-like code generation flags (the kernel's own -O2 build of these files);
# EXTRA_CFLAGS may add e.g. -march=native or -fno-pie.
cflags=(-O2 -fno-strict-aliasing -fno-common -fwrapv -std=gnu11 -g -Wall -Wno-unused-function)
[ "$debug_pt" = 1 ] && cflags+=(-DCONFIG_DEBUG_GENERIC_PT=1)
# shim first: <linux/...> resolves to the shim; <linux/generic_pt/...> to the kernel files;
# "../iommu-pages.h" from iommu_pt.h resolves through the anchor directory.
incs=(-I"$here/shim/include" -I"$src/include" -I"$here/shim/drivers/iommu/generic_pt" -I"$here/shim")
# shellcheck disable=SC2206
extra=(${EXTRA_CFLAGS:-})

bin="$build/$bin_name"
[ "$debug_pt" = 1 ] && bin="$build/$bin_name-debug-pt"
mkdir -p "$build"
obj="$build/$(basename "$bin")"
"$cc" "${cflags[@]}" "${extra[@]}" "${incs[@]}" -c "$gpt/fmt/iommu_$fmt.c" -o "$obj.iommu_$fmt.o"
"$cc" "${cflags[@]}" "${extra[@]}" "${incs[@]}" -c "$here/shim/kshim.c" -o "$obj.kshim.o"
"$cc" "${cflags[@]}" "${fmt_def[@]}" "${extra[@]}" "${incs[@]}" -c "$here/bench.c" -o "$obj.bench.o"
"$cc" "${extra[@]}" -o "$bin" "$obj.bench.o" "$obj.iommu_$fmt.o" "$obj.kshim.o"

echo "== kernel-bench vtd, format $fmt: $("$cc" --version | head -1); flags: ${cflags[*]} ${extra[*]}"
echo "== sources: $src"
if [ -f "$src/SOURCES.txt" ]; then
    grep -v '^#' "$src/SOURCES.txt" | sed 's/^/   /'
fi
if command -v git >/dev/null; then
    for f in $(cd "$src" && find drivers/iommu/generic_pt include/linux/generic_pt -type f \( -name '*.h' -o -name '*.c' \) | sort); do
        printf '   blob %s %s\n' "$(git hash-object "$src/$f" | cut -c1-12)" "$f"
    done
fi
[ "$build_only" = 1 ] && { echo "== built $bin"; exit 0; }

echo "== before: $(uptime)"
# shellcheck disable=SC2086
${TASKSET:-} "$bin" "${args[@]}"
echo "== after:  $(uptime)"
