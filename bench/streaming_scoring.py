"""Streaming scoring benchmark (docs/BENCHMARKS.md, "Streaming scoring"): `imdb-lstm score` in
streaming mode on the local runner, fed the official test reviews, beside a plain TensorFlow loop
over the same SavedModel in the same run.

    python bench/streaming_scoring.py --data ../shared/data/imdb/aclImdb_labeled.tar.gz \
        --model-dir /tmp/ct-warm/serving/imdb-lstm --work-dir /tmp/bench-scoring

Phases: (1) the plain loop, batches of 256; (2) a live feed at --rate reviews a second for
--seconds, with the newest version of --model-dir pushed as a new version halfway (the job starts
on the one before it); (3) a backlog: --backlog reviews dropped at once, scored as fast as the
job can. Prints latency from a file landing to its scores, throughput, the version switch, and
whether every review was scored exactly once.
"""
import argparse
import datetime
import glob
import json
import os
import shutil
import signal
import subprocess
import sys
import time

PROJECT_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, PROJECT_ROOT)

# The plain loop over the serving signature, as the variants table measures it.
from benchmark import serving_throughput  # noqa: E402
from streaming import feed, records  # noqa: E402
from streaming.scoring import percentiles  # noqa: E402


def send(directory: str, reviews, prefix: str, rate: float, seconds: float, on_half=None):
    """`rate` reviews a second as one file a second; calls `on_half` halfway."""
    sent, started = 0, time.monotonic()
    for second in range(int(seconds)):
        time.sleep(max(0.0, started + second - time.monotonic()))
        now = datetime.datetime.now(datetime.timezone.utc).isoformat()
        chunk = reviews[sent:sent + int(rate)]
        records.write_json_lines(directory, "feed", [
            feed.UnratedReview(f"{prefix}{r.key}", r.text, now) for r in chunk])
        sent += len(chunk)
        if on_half and second == int(seconds) // 2:
            on_half()
    return sent


def read_scores(out: str):
    return [json.loads(line) for path in glob.glob(os.path.join(out, "*.jsonl"))
            for line in open(path)]


def wait_scored(out: str, count: int, timeout: float = 600):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        rows = read_scores(out)
        if len(rows) >= count:
            return rows
        time.sleep(1)
    raise SystemExit(f"only {len(read_scores(out))} of {count} reviews scored in {timeout} s")


def push(source: str, base: str, version: int) -> float:
    shutil.copytree(source, os.path.join(base, f"{version}.incomplete"))
    os.rename(os.path.join(base, f"{version}.incomplete"), os.path.join(base, str(version)))
    return time.time()


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", required=True)
    parser.add_argument("--model-dir", required=True, help="a serving dir with >= 2 versions")
    parser.add_argument("--work-dir", required=True)
    parser.add_argument("--rate", type=float, default=500)
    parser.add_argument("--seconds", type=float, default=40)
    parser.add_argument("--backlog", type=int, default=20_000)
    args = parser.parse_args()
    shutil.rmtree(args.work_dir, ignore_errors=True)
    serving, inbox, out = (os.path.join(args.work_dir, d) for d in ("serving", "in", "out"))
    os.makedirs(inbox)
    old, new = sorted((v for v in os.listdir(args.model_dir) if v.isdigit()), key=int)[-2:]
    push(os.path.join(args.model_dir, old), serving, 1)
    reviews = list(feed.reviews_of(args.data, os.path.join(args.work_dir, "cache"), "test"))
    loop_rate = serving_throughput(os.path.join(args.model_dir, old),
                                   [r.text for r in reviews[:10_000]])
    print(f"plain TensorFlow loop: {loop_rate:.0f} reviews/s", flush=True)

    job = subprocess.Popen([os.path.join(os.path.dirname(sys.executable), "imdb-lstm"), "score",
                            "--input", inbox, "--output", out, "--model-dir", serving,
                            "--output-dir", os.path.join(args.work_dir, "o")],
                           cwd=PROJECT_ROOT, stderr=open(os.path.join(args.work_dir, "job.log"),
                                                         "w"))
    time.sleep(20)  # the job starts (TensorFlow, the model, the runner)
    pushed = {}
    sent = send(inbox, reviews, "live-", args.rate, args.seconds,
                on_half=lambda: pushed.setdefault("at", push(
                    os.path.join(args.model_dir, new), serving, 2)))
    live = wait_scored(out, sent)
    latencies = [r["scored_at"] - r["arrived"] for r in live]
    p50, p95 = percentiles(latencies, (50, 95))
    switched = min(r["scored_at"] for r in live if r["model_version"] == "2")
    print(f"live feed: {sent} reviews at {args.rate:.0f}/s offered, "
          f"{sent / (max(r['scored_at'] for r in live) - min(r['arrived'] for r in live)):.0f}/s "
          f"scored; landing to score p50 {p50:.2f} s, p95 {p95:.2f} s, max "
          f"{max(latencies):.2f} s; version 2 pushed mid-stream first scored "
          f"{switched - pushed['at']:.1f} s after the push", flush=True)

    backlog = reviews[:args.backlog]
    dropped = time.time()
    for start in range(0, len(backlog), 1000):
        records.write_json_lines(inbox, "backlog", [feed.UnratedReview(
            f"backlog-{r.key}", r.text, "2026-12-06T00:00:00+00:00")
            for r in backlog[start:start + 1000]])
    rows = wait_scored(out, sent + len(backlog))
    drained = max(r["scored_at"] for r in rows if r["id"].startswith("backlog-"))
    backlog_rate = len(backlog) / (drained - dropped)
    ids = [r["id"] for r in rows]
    print(f"backlog: {len(backlog)} reviews scored at {backlog_rate:.0f}/s = "
          f"{backlog_rate / loop_rate:.2f}x the plain loop; every review scored once: "
          f"{len(ids) == len(set(ids)) == sent + len(backlog)}", flush=True)
    job.send_signal(signal.SIGTERM)
    job.wait(timeout=60)


if __name__ == "__main__":
    main()
