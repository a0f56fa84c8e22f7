#!/usr/bin/env python3
"""Side-by-side benchmark: `recon scan` against the decompression floor and a plain Python scan.

For each log kind it runs, on the same files and in one go:
  floor     libdeflate-gunzip -c FILES > /dev/null   (one process for all files)
  floor/1   libdeflate-gunzip once per file           (how a shell loop would run it)
  recon     recon scan --learning-period 0 --threat-list LIST FILES (fresh state folder)
  python    the team's plain Python peer scan (../shared/bench/peer_python.py)
and reports CPU time (user+sys, from wait4), wall time, peak RSS, records/s and MB/s of
unpacked input, and each CPU time as a multiple of the floor.

usage: bench/compare.py [--corpus DIR] [--shared DIR] [--kind cloudtrail|flowlogs|all] [--repeat N]
                        [--read-ahead N]
Floor and recon run N times each, alternating (default 5); the table shows the median runs and
the line under it the spread of recon/floor.
The corpus is built with ../shared/bench/make_corpus.py when DIR does not hold one yet
(200,000 CloudTrail records and 2,000,000 flow-log lines by default). --read-ahead N passes the
flag to recon scan (threads reading files ahead: less wall time, more CPU time; default 0).
"""
import argparse
import glob
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE):
    """Runs a command; returns (cpu seconds, wall seconds, peak RSS MiB, stderr text)."""
    start = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=stdout, stderr=stderr)
    err = proc.stderr.read() if stderr == subprocess.PIPE else b""
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit(f"command failed: {' '.join(argv)}\n{err.decode(errors='replace')}")
    return usage.ru_utime + usage.ru_stime, wall, usage.ru_maxrss / 1024, err.decode(errors="replace")


def unpacked_bytes(files):
    total = 0
    for f in files:
        out = subprocess.run(["libdeflate-gunzip", "-c", f], capture_output=True, check=True).stdout
        total += len(out)
    return total


def median_run(runs):
    """The run with the median CPU time of several (the machine is shared: noise is real)."""
    return sorted(runs, key=lambda r: r[0])[len(runs) // 2]


def recon_once(recon, threat_list, files, read_ahead):
    state = tempfile.mkdtemp(prefix="recon-bench-")
    try:
        return run([recon, "scan", "--no-progress", "--read-ahead", str(read_ahead), "--state", state, "--learning-period", "0",
                    "--threat-list", threat_list, "--format", "jsonl", *files])
    finally:
        shutil.rmtree(state, ignore_errors=True)


def bench_kind(kind, files, recon, peer, threat_list, repeat, read_ahead):
    # Floor and recon alternate, so that a burst of load on the machine hits both alike.
    floors, ours_runs = [], []
    for _ in range(repeat):
        floors.append(run(["libdeflate-gunzip", "-c", *files]))
        ours_runs.append(recon_once(recon, threat_list, files, read_ahead))
    floor, ours = median_run(floors), median_run(ours_runs)
    per_file = [run(["libdeflate-gunzip", "-c", f]) for f in files]
    floor1 = (sum(r[0] for r in per_file), sum(r[1] for r in per_file), max(r[2] for r in per_file))
    python = run([sys.executable, peer, threat_list, *files])
    m = re.search(r"(\d+) records", ours[3])
    records = int(m.group(1)) if m else 0
    size = unpacked_bytes(files)
    print(f"\n== {kind}: {len(files)} files, {records:,} records, {size / 1e6:,.1f} MB unpacked")
    print(f"{'run':<8} {'cpu s':>7} {'wall s':>7} {'RSS MiB':>8} {'rec/s':>12} {'MB/s':>8} {'x floor':>8} {'x floor/1':>9}")
    for name, (cpu, wall, rss, *_ ) in [("floor", floor), ("floor/1", floor1), ("recon", ours), ("python", python)]:
        print(f"{name:<8} {cpu:7.2f} {wall:7.2f} {rss:8.1f} {records / cpu:12,.0f} {size / 1e6 / cpu:8.0f} "
              f"{cpu / floor[0]:8.2f} {cpu / floor1[0]:9.2f}")
    ratios = sorted(o[0] / f[0] for o, f in zip(ours_runs, floors))
    print(f"recon/floor CPU over {repeat} alternating runs: min {ratios[0]:.2f}, "
          f"median {ratios[len(ratios) // 2]:.2f}, max {ratios[-1]:.2f} (table: median runs; python once)")
    print(f"recon findings/summary: {ours[3].strip().splitlines()[-2:]}")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--corpus", default=os.path.join(ROOT, "target", "bench-corpus"))
    ap.add_argument("--shared", default=os.path.join(os.path.dirname(ROOT), "shared"))
    ap.add_argument("--kind", choices=["cloudtrail", "flowlogs", "all"], default="all")
    ap.add_argument("--ct-records", type=int, default=200_000)
    ap.add_argument("--flow-lines", type=int, default=2_000_000)
    ap.add_argument("--repeat", type=int, default=5, help="runs of floor and recon each (median reported)")
    ap.add_argument("--read-ahead", type=int, default=0, help="recon scan --read-ahead N")
    args = ap.parse_args()
    make = os.path.join(args.shared, "bench", "make_corpus.py")
    peer = os.path.join(args.shared, "bench", "peer_python.py")
    data = os.path.join(args.shared, "data")
    if not (os.path.exists(make) and os.path.isdir(data)):
        sys.exit(f"team material not found under {args.shared}: the benchmark needs make_corpus.py, "
                 "peer_python.py and data/ (pass --shared DIR)")
    if shutil.which("libdeflate-gunzip") is None:
        sys.exit("libdeflate-gunzip not found: apt-get install libdeflate-tools")
    if not glob.glob(os.path.join(args.corpus, "cloudtrail", "*.gz")):
        print(f"building the corpus in {args.corpus} …", flush=True)
        subprocess.run([sys.executable, make, args.corpus, data, str(args.ct_records), str(args.flow_lines)], check=True)
    subprocess.run(["cargo", "build", "--release", "-q", "-p", "recon-cli"], cwd=ROOT, check=True)
    recon = os.path.join(ROOT, "target", "release", "recon")
    threat_list = os.path.join(data, "threat-lists", "firehol_via_o4isec", "firehol_level1.netset")
    kinds = ["cloudtrail", "flowlogs"] if args.kind == "all" else [args.kind]
    for kind in kinds:
        files = sorted(glob.glob(os.path.join(args.corpus, kind, "*.gz")))
        bench_kind(kind, files, recon, peer, threat_list, max(1, args.repeat), args.read_ahead)


if __name__ == "__main__":
    main()
