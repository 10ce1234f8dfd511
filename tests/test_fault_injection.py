"""kill -9 at several points of one run, each re-run with the same command: the last completes,
resumes training from its backup, pushes exactly one version, and ML Metadata stays readable."""
import os
import signal
import subprocess

import pytest

import synthetic_imdb
from pipeline_runs import BIN, FAST_TRAINING, NO_VALUE_GATES, PROJECT_ROOT, imdb_lstm, versions

pytestmark = pytest.mark.e2e

# Each run is killed when its console shows the line; the next run starts from what is left.
KILL_POINTS = ("[ImdbExampleGen] running", "[Transform] running", "epoch 1/3",
               "[Evaluator] running", "[VersionedPusher] running")


def run_until(args, line: str) -> str:
    """Runs `imdb-lstm run` and kills it with SIGKILL once `line` appears; its console."""
    process = subprocess.Popen([os.path.join(BIN, "imdb-lstm"), "run", *args], cwd=PROJECT_ROOT,
                               stderr=subprocess.PIPE, text=True, start_new_session=True)
    seen = []
    for output in process.stderr:
        seen.append(output)
        if line in output:
            os.killpg(process.pid, signal.SIGKILL)
            break
    process.wait(timeout=60)
    assert process.returncode == -signal.SIGKILL, f"never saw {line!r}:\n{''.join(seen)}"
    return "".join(seen)


def test_killed_at_every_stage_then_rerun_completes_once(tmp_path):
    data = synthetic_imdb.write_archive(str(tmp_path / "imdb.tar.gz"), per_folder=40)
    output_dir = str(tmp_path / "out")
    serving = os.path.join(output_dir, "serving", "imdb-lstm")
    args = ["--data", data, "--output-dir", output_dir, *FAST_TRAINING, "--epochs", "3",
            "--early-stopping-patience", "3", *NO_VALUE_GATES]
    for line in KILL_POINTS:
        run_until(args, line)
        # A kill mid-push leaves at most a staging directory, never a numeric version.
        assert all(os.path.exists(os.path.join(serving, v, "saved_model.pb"))
                   for v in versions(serving))
    final = imdb_lstm(*args)
    assert final.returncode == 0, final.stderr
    assert "resuming after epoch" in final.stderr or "[Trainer] done (cached)" in final.stderr
    assert len(versions(serving)) == 1
    listing = imdb_lstm("--output-dir", output_dir, command="report")
    assert listing.returncode == 0, listing.stderr
    runs = [line for line in listing.stdout.splitlines() if line[:4].isdigit()]
    # Every killed run that got as far as registering in ML Metadata (a kill at the very first
    # component may come before), then the one that pushed.
    assert len(runs) >= len(KILL_POINTS) and versions(serving)[0] in runs[-1]
