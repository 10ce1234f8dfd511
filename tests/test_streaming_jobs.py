"""The Beam streaming jobs for real: `imdb-lstm stream ingest` and `imdb-lstm score` started in
streaming mode on the local runner, files dropped into their input as a feed would deliver them,
their outputs read back, and the jobs stopped with SIGTERM or Ctrl-C; `score --batch` on a feed
directory and on an archive, with stand-in models and with one the real Trainer exported."""
import datetime
import glob
import json
import os
import signal
import subprocess
import threading
import time

import pytest
import tensorflow as tf
import tensorflow_transform as tft

import serving_models
import synthetic_imdb
import transformed_data
from components import spans
from pipeline_runs import BIN, PROJECT_ROOT
from streaming import records
from trainer import config, features, training
from trainer.export import RAW_TEXT_SIGNATURE

pytestmark = pytest.mark.e2e


class Job:
    """An `imdb-lstm` command running in the background; its stderr is collected as it comes."""

    def __init__(self, *args):
        self.process = subprocess.Popen([os.path.join(BIN, "imdb-lstm"), *args],
                                        cwd=PROJECT_ROOT, stderr=subprocess.PIPE, text=True)
        self.lines = []
        threading.Thread(target=self._collect, daemon=True).start()

    def _collect(self):
        for line in self.process.stderr:
            self.lines.append(line)

    @property
    def log(self) -> str:
        return "".join(self.lines)

    def stop(self, how: signal.Signals = signal.SIGTERM) -> int:
        self.process.send_signal(how)
        return self.process.wait(timeout=60)


def wait_for(condition, what: str, timeout: float = 90):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.5)
    raise AssertionError(f"timed out waiting for {what}")


def drop(feed: str, records_):
    """A feed file, written whole (streaming/records.py)."""
    return records.write_json_lines(feed, "feed", records_)


def rated(id_: str, review: str, rating: int = 9) -> spans.RatedReview:
    return spans.RatedReview(id_, review, rating,
                             datetime.datetime.now(datetime.timezone.utc).isoformat())


def span_ids(landing: str):
    return {span: sorted(r.id for p in spans.record_files(landing, span)
                         for r in spans.read_file(p))
            for span in spans.ready_spans(landing)}


def test_ingest_writes_closed_windows_as_spans_and_a_restart_duplicates_nothing(tmp_path):
    feed, landing, out = str(tmp_path / "feed"), str(tmp_path / "landing"), str(tmp_path / "out")
    os.makedirs(feed)
    ingest = ("stream", "ingest", "--source", feed, "--landing", landing, "--output-dir", out,
              "--stream-window-seconds", "3", "--stream-allowed-lateness-seconds", "1")
    job = Job(*ingest)
    drop(feed, [rated("a", "Great."), rated("b", "Awful.", 2)])
    with open(os.path.join(feed, "bad.jsonl"), "w") as f:
        f.write('{"id": "c", "review": "No rating.", "time": "2026-12-06T10:00:00Z"}\n')
    landed = wait_for(lambda: span_ids(landing), "the first span")
    assert landed == {1: ["a", "b"]}
    marker = spans.read_marker(landing, 1)
    assert marker.window[1] - marker.window[0] == 3 and marker.completed >= marker.window[1] + 1
    [dead] = wait_for(lambda: glob.glob(os.path.join(out, "dead_letters", "ingest", "*.jsonl")),
                      "the dead letter")
    with open(dead) as f:
        assert json.load(f)["reason"] == "missing rating"
    assert job.stop() == 0
    assert "ingest stopped by SIGTERM" in job.log and "Traceback" not in job.log
    assert "span 1 <- window" in job.log

    restarted = Job(*ingest)  # reads the feed from the start again
    drop(feed, [rated("d", "Fine.", 7)])
    wait_for(lambda: 2 in span_ids(landing), "the span after the restart")
    assert span_ids(landing) == {1: ["a", "b"], 2: ["d"]}
    assert restarted.stop() == 0


def scores(out: str):
    rows = [json.loads(line) for path in glob.glob(os.path.join(out, "*.jsonl"))
            for line in open(path)]
    return {row["id"]: row for row in rows}, len(rows)


def test_score_follows_the_newest_version_and_refuses_a_broken_one(tmp_path):
    base, feed, out = str(tmp_path / "serving"), str(tmp_path / "feed"), str(tmp_path / "out")
    os.makedirs(feed)
    serving_models.write_version(base, 1, "good")
    job = Job("score", "--input", feed, "--output", out, "--model-dir", base,
              "--model-poll-seconds", "1", "--output-dir", str(tmp_path / "o"))
    drop(feed, [rated("a", "a good film"), rated("b", "a dull film")])
    by_id, _ = wait_for(lambda: scores(out)[1] == 2 and scores(out), "the first scores")
    assert {(i, r["model_version"], r["label"]) for i, r in by_id.items()} == {
        ("a", "1", "positive"), ("b", "1", "negative")}
    assert by_id["a"]["time"] and by_id["a"]["scored_at"] >= by_id["a"]["arrived"]

    serving_models.write_version(base, 2, "dull")
    wait_for(lambda: "now serving model version 2" in job.log or _drop_probe(feed), "version 2",
             timeout=60)
    serving_models.write_broken_version(base, 3)
    drop(feed, [rated("c", "a good film"), rated("d", "a dull film")])
    wait_for(lambda: "c" in scores(out)[0] and "d" in scores(out)[0], "the later scores")
    by_id, count = scores(out)
    assert count == len(by_id)  # no review scored twice
    assert {(i, by_id[i]["model_version"], by_id[i]["label"]) for i in "cd"} == {
        ("c", "2", "negative"), ("d", "2", "positive")}
    # The broken version is refused at a poll, which the scores above need not have waited for.
    wait_for(lambda: "refused model version 3" in job.log or _drop_probe(feed), "the refusal",
             timeout=60)
    assert "still serving version 2" in job.log
    assert job.stop() == 0


def _drop_probe(feed: str) -> bool:
    """The serving model looks for a newer version when it scores: keep something to score."""
    drop(feed, [rated(f"probe-{time.monotonic_ns()}", "a probe")])
    time.sleep(1)
    return False


def test_score_batch_scores_what_is_there_and_exits(tmp_path):
    base, feed, out = str(tmp_path / "serving"), str(tmp_path / "feed"), str(tmp_path / "out")
    serving_models.write_version(base, 1, "good")
    drop(feed, [rated(f"r{i}", "good" if i % 2 else "dull") for i in range(10)])
    with open(os.path.join(feed, "bad.jsonl"), "w") as f:
        f.write("not json\n")
    dead_letters = str(tmp_path / "rejected")
    process = subprocess.run(
        [os.path.join(BIN, "imdb-lstm"), "score", "--batch", "--input", feed, "--output", out,
         "--model-dir", base, "--output-dir", str(tmp_path / "o"), "--dead-letters",
         dead_letters],
        cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=300)
    assert process.returncode == 0, process.stderr
    by_id, count = scores(out)
    assert count == 10 and sum(r["label"] == "positive" for r in by_id.values()) == 5
    assert "scored 10 reviews, rejected 1" in process.stderr
    # The rejected line itself, where it came from and why, in the directory asked for.
    [rejected] = [json.loads(line) for path in glob.glob(os.path.join(dead_letters, "*.jsonl"))
                  for line in open(path)]
    assert rejected["record"] == "not json" and rejected["where"].startswith(
        os.path.join(feed, "bad.jsonl")) and rejected["reason"]


def test_score_batch_scores_the_unlabelled_reviews_of_an_archive(tmp_path):
    base, out = str(tmp_path / "serving"), str(tmp_path / "out")
    serving_models.write_version(base, 1, "good")
    archive = synthetic_imdb.write_archive(str(tmp_path / "imdb.tar.gz"), per_folder=3,
                                           unlabelled=6)
    process = subprocess.run(
        [os.path.join(BIN, "imdb-lstm"), "score", "--batch", "--split", "unsup", "--input",
         archive, "--output", out, "--model-dir", base, "--output-dir", str(tmp_path / "o")],
        cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=300)
    assert process.returncode == 0, process.stderr
    by_id, count = scores(out)
    assert count == 6 and all("/unsup/" in review_id for review_id in by_id)
    assert "scored 6 reviews, rejected 0" in process.stderr


def trainer_export(workdir: str, version_dir: str) -> None:
    """A model trained and exported by trainer/training.py (Transform's graph inside) on tiny
    data, in the serving layout as the Pusher leaves it."""
    raw = [{"review": text.encode(), "label": int("/pos/" in path), "rating": 1}
           for path, text in synthetic_imdb.reviews(per_folder=20) if "/train/" in path]
    trainer_config = config.TrainerConfig(vocab_size=50, sequence_length=16, embedding_dim=8,
                                          lstm_units=4, dense_units=4, ngram_vocab_size=200,
                                          epochs=2, batch_size=8)
    rows, transform_dir = transformed_data.analyze_and_transform(raw, trainer_config, workdir)
    examples = transformed_data.write_examples(rows, os.path.join(workdir, "train.gz"))
    training.train(trainer_config, tft.TFTransformOutput(transform_dir), [examples], [examples],
                   version_dir, os.path.join(workdir, "run"))


def test_score_batch_with_a_model_the_trainer_exported(tmp_path):
    base, feed, out = str(tmp_path / "serving"), str(tmp_path / "feed"), str(tmp_path / "out")
    trainer_export(str(tmp_path / "train"), os.path.join(base, "1700000000"))
    texts = {f"r{i}": text for i, (path, text) in enumerate(
        synthetic_imdb.reviews(per_folder=3, seed=7)) if "/test/" in path}
    drop(feed, [rated(i, text) for i, text in texts.items()])
    process = subprocess.run(
        [os.path.join(BIN, "imdb-lstm"), "score", "--batch", "--input", feed, "--output", out,
         "--model-dir", base, "--output-dir", str(tmp_path / "o")],
        cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=300)
    assert process.returncode == 0, process.stderr
    by_id, count = scores(out)
    assert count == len(texts) == len(by_id)
    # The job's scores are the exported model's own, through its raw-text signature.
    serve = tf.saved_model.load(os.path.join(base, "1700000000")).signatures[RAW_TEXT_SIGNATURE]
    ids = sorted(texts)
    served = serve(tf.constant([texts[i] for i in ids]))[features.PREDICTION_KEY].numpy()
    for review_id, expected in zip(ids, served[:, 0]):
        row = by_id[review_id]
        assert row["model_version"] == "1700000000"
        assert row["score"] == pytest.approx(float(expected), abs=1e-5)
        assert row["label"] == ("positive" if row["score"] >= 0.5 else "negative")


def test_score_without_a_usable_model_says_so_in_one_line(tmp_path):
    process = subprocess.run(
        [os.path.join(BIN, "imdb-lstm"), "score", "--input", str(tmp_path), "--output",
         str(tmp_path / "out"), "--model-dir", str(tmp_path / "none")],
        cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=300)
    assert process.returncode == 1
    assert process.stderr.strip().splitlines()[-1] == (
        f"imdb-lstm score: {tmp_path / 'none'}: no model version loads (versions: none); push "
        "one first")


def resident_mib_and_cpu_seconds(pid: int):
    """From /proc, not from anything the job says about itself."""
    with open(f"/proc/{pid}/status") as f:
        rss_kib = next(int(line.split()[1]) for line in f if line.startswith("VmRSS:"))
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return rss_kib / 1024, (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


IDLE_WARMUP_S, IDLE_MEASURED_S = 30, 90


def test_idle_jobs_hold_their_memory_and_spend_no_cpu(tmp_path):
    """`score`, `stream ingest` and `watch` with nothing arriving: after a warm-up, resident
    memory flat (within 2 MiB over 90 s) and under 5% of a core each; then, stopped by Ctrl-C or
    SIGTERM, each says so and exits 0. The local runner once spun through about 100 empty
    bundles a second and kept each one's metrics: 9-12 MB a second and most of a core per job;
    at one bundle a poll, keeping the metrics still grew 3 MB a minute
    (docs/experiments/2026-12-07-streaming-soak.md)."""
    feed, out, base = str(tmp_path / "feed"), str(tmp_path / "o"), str(tmp_path / "serving")
    os.makedirs(feed)
    os.makedirs(tmp_path / "landing-for-watch")
    serving_models.write_version(base, 1, "good")
    jobs = {
        "score": Job("score", "--input", feed, "--output", str(tmp_path / "scores"),
                     "--model-dir", base, "--output-dir", out),
        "ingest": Job("stream", "ingest", "--source", feed, "--landing",
                      str(tmp_path / "landing"), "--output-dir", out),
        "watch": Job("watch", "--landing", str(tmp_path / "landing-for-watch"),
                     "--output-dir", str(tmp_path / "w"), "--poll-seconds", "5"),
    }
    for name, started in (("score", "score: "), ("ingest", "ingest: "), ("watch", "watching ")):
        wait_for(lambda: started in jobs[name].log, f"{name} to start", timeout=120)
    time.sleep(IDLE_WARMUP_S)
    before = {name: resident_mib_and_cpu_seconds(job.process.pid) for name, job in jobs.items()}
    time.sleep(IDLE_MEASURED_S)
    after = {name: resident_mib_and_cpu_seconds(job.process.pid) for name, job in jobs.items()}
    # Ctrl-C and SIGTERM alike: the job's one line, exit status 0.
    for (name, job), (how, said) in zip(jobs.items(), [(signal.SIGINT, "Ctrl-C"),
                                                       (signal.SIGTERM, "SIGTERM"),
                                                       (signal.SIGINT, "Ctrl-C")]):
        assert job.stop(how) == 0
        assert f"stopped by {said}" in job.log, (name, job.log[-2000:])
    growth = {name: round(after[name][0] - before[name][0], 1) for name in jobs}
    cpu = {name: round((after[name][1] - before[name][1]) / IDLE_MEASURED_S, 3) for name in jobs}
    assert all(mib < 2 for mib in growth.values()), growth
    assert all(share < 0.05 for share in cpu.values()), cpu
