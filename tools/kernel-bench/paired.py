#!/usr/bin/env python3
"""Paired process sampling of the kernel's page-table code against jiommu (see README.md).

For each FORMAT:CASE argument (arm:map-4k, vtd:iova-to-phys, ...), runs N rounds of one kernel
process then one fresh jiommu JVM, each measuring only that case (W warm-up iterations, M measured
iterations of MS ms, as `jiommu bench`), and prints each side's per-process medians, the median of
those, and jiommu / kernel. Alternating the two sides spreads the host's slow and fast phases over
both; taking the median over processes copes with a process settling into a slow or fast speed
for its whole life, which both sides do on a shared VM.
"""
import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
CASES = ["map-4k", "unmap-4k", "map-256x4k", "unmap-256x4k", "map-2m", "iova-to-phys"]
GROUP = {"arm": "arm-lpae-s1", "vtd": "vtd-sl", "x86": "x86-fl"}


def kernel_figure(args, fmt, case):
    if fmt == "arm":
        cmd = [args.arm_bench, "--case", case, "--warmup", str(args.w), "--iterations", str(args.m),
               "--iter-ms", str(args.ms), "--no-check"]
        pattern = r"^" + re.escape(case) + r"\s+([\d.]+)"
    else:  # generic_pt: vtdss, or x86_64 built by vtd/run.sh --format x86_64
        cmd = [args.vtd_bench if fmt == "vtd" else args.x86_bench, "--cases", case, "--warmup", str(args.w),
               "--measured", str(args.m), "--iter-ms", str(args.ms), "--no-fork"]
        pattern = r"^" + GROUP[fmt] + "/" + re.escape(case) + r"\s+\d+\s+([\d.]+)"
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    m = re.search(pattern, out, re.M)
    if not m:
        sys.exit("no figure for %s:%s in the kernel harness's output:\n%s" % (fmt, case, out))
    return float(m.group(1))


def jiommu_figure(args, fmt, case):
    name = GROUP[fmt] + "/" + case
    cmd = ["java", "-cp", args.jar, "org.jiommu.bench.BenchFork", name, str(args.w), str(args.m), str(args.ms),
           "1", "false"]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    m = re.search(r"jiommu-bench-result (\{.*\})", out)
    if not m:
        sys.exit("no figure for %s in jiommu's output:\n%s" % (name, out))
    return statistics.median(json.loads(m.group(1))["iterations"])


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("cases", nargs="+", metavar="FORMAT:CASE",
                   help="arm, vtd or x86, then one of " + ", ".join(CASES) + "; FORMAT:all for the six")
    p.add_argument("-n", type=int, default=int(os.environ.get("N", "8")), help="processes per side (default 8)")
    p.add_argument("-w", type=int, default=3, help="warm-up iterations per process (default 3)")
    p.add_argument("-m", type=int, default=5, help="measured iterations per process (default 5)")
    p.add_argument("--ms", type=int, default=200, help="timed ms per iteration (default 200)")
    p.add_argument("--jar", default=os.path.join(REPO, "target", "jiommu.jar"))
    p.add_argument("--arm-bench", default="/tmp/kbench-arm-build/bench", help="built by arm/run.sh --build-only")
    p.add_argument("--vtd-bench", default="/tmp/kbench-vtd-build/bench", help="built by vtd/run.sh --build-only")
    p.add_argument("--x86-bench", default="/tmp/kbench-vtd-build/bench-x86_64",
                   help="built by vtd/run.sh --format x86_64 --build-only")
    p.add_argument("--json", action="store_true", help="one JSON object per case instead of text")
    args = p.parse_args()
    specs = []
    for spec in args.cases:
        fmt, _, case = spec.partition(":")
        if fmt not in GROUP or (case not in CASES and case != "all"):
            p.error("bad case %r (want arm|vtd|x86:%s|all)" % (spec, "|".join(CASES)))
        specs += [(fmt, c) for c in (CASES if case == "all" else [case])]
    for fmt, case in specs:
        ks, js = [], []
        for _ in range(args.n):
            ks.append(kernel_figure(args, fmt, case))
            js.append(jiommu_figure(args, fmt, case))
        km, jm = statistics.median(ks), statistics.median(js)
        row = {"case": GROUP[fmt] + "/" + case, "kernel": km, "jiommu": jm, "ratio": jm / km,
               "kernelRuns": ks, "jiommuRuns": js, "time": time.strftime("%H:%M:%S"),
               "load": open("/proc/loadavg").read().split()[0]}
        if args.json:
            print(json.dumps(row), flush=True)
        else:
            print("%-26s kernel %7.1f [%6.1f-%6.1f]  jiommu %7.1f [%6.1f-%6.1f]  ratio %.2f  (%s, load %s)"
                  % (row["case"], km, min(ks), max(ks), jm, min(js), max(js), jm / km, row["time"], row["load"]),
                  flush=True)
            print("    kernel %s\n    jiommu %s" % (" ".join("%.1f" % x for x in ks), " ".join("%.1f" % x for x in js)),
                  flush=True)


if __name__ == "__main__":
    main()
