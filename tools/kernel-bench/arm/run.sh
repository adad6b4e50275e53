#!/usr/bin/env bash
# Builds the io-pgtable-arm user-space benchmark against kernel sources kept outside the repo
# and runs it.
#
#   run.sh [--src DIR] [--build DIR] [--wmb compiler|sfence] [--build-only] [bench args...]
#
# DIR (default /work/kbench-src/arm) must hold, as in the kernel tree:
#   drivers/iommu/io-pgtable-arm.c  drivers/iommu/io-pgtable-arm.h  drivers/iommu/io-pgtable.c
#   include/linux/io-pgtable.h
# The build goes to /tmp/kbench-arm-build (never into the repo). Extra flags for the kernel
# objects: KCFLAGS_EXTRA="..." (e.g. -mgeneral-regs-only, -mindirect-branch=thunk).
# Bench args: see `run.sh --help` (e.g. --case map-4k --warmup 1 --iterations 3 --iter-ms 50).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
SRC=/work/kbench-src/arm
BUILD=/tmp/kbench-arm-build
WMB=compiler
BUILD_ONLY=0
CC=${CC:-/usr/bin/gcc}
ARGS=()

while [ $# -gt 0 ]; do
	case "$1" in
	--src) SRC=$2; shift 2 ;;
	--build) BUILD=$2; shift 2 ;;
	--wmb) WMB=$2; shift 2 ;;
	--build-only) BUILD_ONLY=1; shift ;;
	*) ARGS+=("$1"); shift ;;
	esac
done

case "$WMB" in
compiler) WMB_DEF= ;;
sfence) WMB_DEF=-DKBENCH_WMB_SFENCE ;;
*) echo "run.sh: --wmb compiler|sfence" >&2; exit 2 ;;
esac

[ -d "$SRC" ] || { echo "run.sh: no kernel source dir $SRC (give --src DIR: a tree with the files README.md lists)" >&2; exit 2; }
SRC=$(cd "$SRC" && pwd)
REPO_TOP=$(cd "$HERE/../../.." && pwd)
case "$BUILD/" in
"$REPO_TOP"/*) echo "run.sh: the build dir must be outside the repo ($REPO_TOP)" >&2; exit 2 ;;
esac

for f in drivers/iommu/io-pgtable-arm.c drivers/iommu/io-pgtable-arm.h drivers/iommu/io-pgtable.c \
	 include/linux/io-pgtable.h; do
	[ -f "$SRC/$f" ] || { echo "run.sh: missing $SRC/$f" >&2; exit 2; }
done

# Kernel-like flags (no -D__KERNEL__: nothing needs it).
KCFLAGS="-O2 -fno-strict-aliasing -fno-common -fwrapv -std=gnu11 ${KCFLAGS_EXTRA:-}"

# Only the files used are copied, so that the quoted "iommu-pages.h" of io-pgtable-arm.c
# resolves to the shim (the kernel's own needs struct page / folio).
mkdir -p "$BUILD/src" "$BUILD/include/linux"
cp "$SRC/drivers/iommu/io-pgtable-arm.c" "$SRC/drivers/iommu/io-pgtable-arm.h" \
   "$SRC/drivers/iommu/io-pgtable.c" "$BUILD/src/"
cp "$SRC/include/linux/io-pgtable.h" "$BUILD/include/linux/"
rm -f "$BUILD/src/iommu-pages.h"

blob() { git hash-object "$1" 2>/dev/null || sha1sum "$1" | cut -c1-40; }
ARM_BLOB=$(blob "$BUILD/src/io-pgtable-arm.c")
DESC="io-pgtable-arm.c blob ${ARM_BLOB:0:12}, io-pgtable.c $(blob "$BUILD/src/io-pgtable.c" | cut -c1-12), io-pgtable.h $(blob "$BUILD/include/linux/io-pgtable.h" | cut -c1-12) from $SRC"

INC=(-I"$HERE/shim" -I"$BUILD/include")
WARN=(-Wall -Wno-unused-function)
set -x
"$CC" $KCFLAGS $WMB_DEF "${WARN[@]}" "${INC[@]}" -c "$BUILD/src/io-pgtable-arm.c" -o "$BUILD/io-pgtable-arm.o"
"$CC" $KCFLAGS -DCONFIG_IOMMU_IO_PGTABLE_LPAE "${WARN[@]}" "${INC[@]}" -c "$BUILD/src/io-pgtable.c" -o "$BUILD/io-pgtable.o"
"$CC" -O2 -std=gnu11 -Wall "${INC[@]}" -c "$HERE/shim/kbench_shim.c" -o "$BUILD/kbench_shim.o"
"$CC" -O2 -std=gnu11 -Wall $WMB_DEF "${INC[@]}" \
	-DKBENCH_SRC_DESC="\"$DESC\"" -DKBENCH_KCFLAGS="\"$(echo $KCFLAGS)\"" \
	-c "$HERE/bench.c" -o "$BUILD/bench.o"
"$CC" -o "$BUILD/bench" "$BUILD/bench.o" "$BUILD/io-pgtable-arm.o" "$BUILD/io-pgtable.o" "$BUILD/kbench_shim.o"
{ set +x; } 2>/dev/null

[ "$BUILD_ONLY" = 1 ] && exit 0
exec "$BUILD/bench" "${ARGS[@]+"${ARGS[@]}"}"
