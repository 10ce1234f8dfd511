"""Soak benchmark of the long-running commands (docs/BENCHMARKS.md, "Streaming jobs over hours"):
`imdb-lstm score`, `imdb-lstm stream ingest` and `imdb-lstm watch` started side by side, left
idle, then `score` and `stream ingest` fed a steady stream of rated reviews, while their resident
memory and CPU are sampled from /proc.

    python bench/streaming_soak.py --data ../shared/data/imdb/aclImdb_labeled.tar.gz \
        --model-dir ~/imdb-lstm-tfx/serving/imdb-lstm --work-dir /tmp/soak \
        [--idle-minutes 30] [--busy-minutes 30] [--rate 100]

`watch` follows a landing location no span ever reaches: it is idle throughout. The feed is the
labelled reviews of --data in a fixed shuffled order, round after round (ids suffixed with the
round), one file a second. Per job and phase: resident memory after the warm-up and at the end,
the slope after the warm-up (least squares), mean CPU; for the busy phase, reviews scored a
second and the latency from a file landing to its score, and the spans written. A job whose
memory passes --max-rss-gib is stopped, and its rows say so.
"""
import argparse
import dataclasses
import datetime
import glob
import hashlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
from typing import Dict, List, Optional, Tuple

PROJECT_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, PROJECT_ROOT)

from components import spans  # noqa: E402
from streaming import feed, records  # noqa: E402
from streaming.scoring import percentiles  # noqa: E402

BIN = os.path.dirname(sys.executable)
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def process_sample(pid: int) -> Tuple[float, float]:
    """(resident memory in MiB, CPU seconds used so far) of `pid`, from /proc."""
    with open(f"/proc/{pid}/status") as f:
        rss_kib = next(int(line.split()[1]) for line in f if line.startswith("VmRSS:"))
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return rss_kib / 1024, (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def slope_per_minute(samples: List[Tuple[float, float, float]]) -> float:
    """Least-squares slope of memory (MiB) over time, per minute, of (time, rss, cpu) samples."""
    times, memory = [s[0] for s in samples], [s[1] for s in samples]
    mean_t, mean_m = sum(times) / len(times), sum(memory) / len(memory)
    spread = sum((t - mean_t) ** 2 for t in times)
    return 60 * sum((t - mean_t) * (m - mean_m) for t, m in zip(times, memory)) / spread


@dataclasses.dataclass
class Job:
    """One `imdb-lstm` command in the background, sampled every `every` seconds."""
    name: str
    args: List[str]
    log_path: str
    max_rss_mib: float
    samples: List[Tuple[float, float, float]] = dataclasses.field(default_factory=list)
    stopped_for_memory: Optional[float] = None

    def start(self, every: float) -> None:
        self._log = open(self.log_path, "w")
        self.process = subprocess.Popen([os.path.join(BIN, "imdb-lstm"), *self.args],
                                        cwd=PROJECT_ROOT, stdout=self._log, stderr=self._log)
        threading.Thread(target=self._sample, args=(every,), daemon=True).start()

    def _sample(self, every: float) -> None:
        while self.process.poll() is None:
            rss, cpu = process_sample(self.process.pid)
            self.samples.append((time.monotonic(), rss, cpu))
            if rss > self.max_rss_mib and self.stopped_for_memory is None:
                self.stopped_for_memory = rss
                self.process.send_signal(signal.SIGTERM)
            time.sleep(every)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        self.process.wait(timeout=120)
        self._log.close()

    def phase(self, start: float, end: float, warmup: float) -> Dict[str, object]:
        """Memory and CPU between `start + warmup` and `end` (monotonic times)."""
        kept = [s for s in self.samples if start + warmup <= s[0] <= end]
        if len(kept) < 3:
            return {"samples": len(kept)}
        (t0, rss0, cpu0), (t1, rss1, cpu1) = kept[0], kept[-1]
        return {"samples": len(kept), "rss_start_mib": rss0, "rss_end_mib": rss1,
                "slope_mib_per_min": slope_per_minute(kept),
                "cpu_percent": 100 * (cpu1 - cpu0) / (t1 - t0),
                "minutes": (t1 - t0) / 60, "stopped_for_memory": self.stopped_for_memory}


def rated_reviews(data: str, cache_dir: str):
    """The labelled reviews of `data` as RatedReviews, in a fixed shuffled order."""
    reviews = [review for split in ("train", "test") for review in
               feed.reviews_of(data, cache_dir, split)]
    return sorted(reviews, key=lambda r: hashlib.sha256(r.key.encode("utf-8")).digest())


def send_steadily(directory: str, reviews, rate: int, seconds: float) -> int:
    """`rate` reviews a second, one file a second, for `seconds`; returns how many were sent."""
    sent, started = 0, time.monotonic()
    for second in range(int(seconds)):
        time.sleep(max(0.0, started + second - time.monotonic()))
        now = datetime.datetime.now(datetime.timezone.utc).isoformat()
        batch = [reviews[(sent + i) % len(reviews)] for i in range(rate)]
        rounds = [(sent + i) // len(reviews) for i in range(rate)]
        records.write_json_lines(directory, "feed", [
            spans.RatedReview(f"{r.key}#{n}", r.text, r.rating, now)
            for r, n in zip(batch, rounds)])
        sent += rate
    return sent


def score_figures(out: str, since: float) -> Dict[str, float]:
    rows = [json.loads(line) for path in glob.glob(os.path.join(out, "*.jsonl"))
            for line in open(path)]
    latencies = [row["scored_at"] - row["arrived"] for row in rows if row["arrived"] >= since]
    if not latencies:
        return {"scored": 0}
    p50, p95 = percentiles(latencies, (50, 95))
    return {"scored": len(rows), "distinct": len({row["id"] for row in rows}),
            "latency_p50_s": p50, "latency_p95_s": p95}


def span_figures(landing: str) -> Dict[str, float]:
    ready = spans.ready_spans(landing)
    delays = [marker.completed - marker.window[1]
              for marker in (spans.read_marker(landing, span) for span in ready)]
    return {"spans": len(ready), "reviews": len(spans.landed_ids(landing)),
            "max_s_after_window": max(delays) if delays else None}


def start_jobs(args: argparse.Namespace) -> List[Job]:
    work = args.work_dir
    limit = args.max_rss_gib * 1024
    common = ["--output-dir", os.path.join(work, "out")]
    commands = {
        "score": ["score", "--input", os.path.join(work, "feed"), "--output",
                  os.path.join(work, "scores"), "--model-dir", args.model_dir, *common],
        "stream ingest": ["stream", "ingest", "--source", os.path.join(work, "feed"),
                          "--landing", os.path.join(work, "landing"),
                          "--stream-window-seconds", "60",
                          "--stream-allowed-lateness-seconds", "5", *common],
        "watch": ["watch", "--landing", os.path.join(work, "no-spans"), "--output-dir",
                  os.path.join(work, "watch")],
    }
    jobs = [Job(name, argv, os.path.join(work, name.replace(" ", "-") + ".log"), limit)
            for name, argv in commands.items()]
    for job in jobs:
        job.start(args.sample_seconds)
    return jobs


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", required=True)
    parser.add_argument("--model-dir", required=True, help="a serving directory with a version")
    parser.add_argument("--work-dir", required=True)
    parser.add_argument("--idle-minutes", type=float, default=30)
    parser.add_argument("--busy-minutes", type=float, default=30)
    parser.add_argument("--warmup-minutes", type=float, default=2)
    parser.add_argument("--rate", type=int, default=100, help="reviews a second when busy")
    parser.add_argument("--sample-seconds", type=float, default=5)
    parser.add_argument("--max-rss-gib", type=float, default=6)
    parser.add_argument("--json", help="also write the figures here")
    args = parser.parse_args()
    for name in ("feed", "no-spans"):
        os.makedirs(os.path.join(args.work_dir, name), exist_ok=True)
    reviews = rated_reviews(args.data, os.path.join(args.work_dir, "cache"))
    jobs = start_jobs(args)
    idle_start = time.monotonic()
    time.sleep(60 * args.idle_minutes)
    busy_start, busy_wall = time.monotonic(), time.time()
    sent = send_steadily(os.path.join(args.work_dir, "feed"), reviews, args.rate,
                         60 * args.busy_minutes)
    busy_end = time.monotonic()
    time.sleep(30)  # the last files scored and the last window written
    for job in jobs:
        job.stop()
    warmup = 60 * args.warmup_minutes
    figures = {
        "idle": {job.name: job.phase(idle_start, busy_start, warmup) for job in jobs},
        "busy": {job.name: job.phase(busy_start, busy_end, warmup) for job in jobs},
        "sent": sent,
        "score": score_figures(os.path.join(args.work_dir, "scores"), busy_wall),
        "spans": span_figures(os.path.join(args.work_dir, "landing")),
    }
    print(json.dumps(figures, indent=2))
    # Every sample (seconds since the start, resident MiB, CPU seconds), for a closer look.
    figures["samples"] = {job.name: [(round(t - idle_start, 1), round(rss, 2), round(cpu, 2))
                                     for t, rss, cpu in job.samples] for job in jobs}
    if args.json:
        with open(args.json, "w") as f:
            json.dump(figures, f, indent=2)


if __name__ == "__main__":
    main()
