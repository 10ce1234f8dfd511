"""Stopping a run on request: Ctrl-C (SIGINT) and SIGTERM end `imdb-lstm run` within seconds
with one line and exit 130 / 143, nothing pushed; the same command then resumes and pushes one
model."""
import os
import signal
import subprocess
import time

import pytest

import synthetic_imdb
from pipeline_runs import BIN, FAST_TRAINING, NO_VALUE_GATES, PROJECT_ROOT, imdb_lstm, versions

pytestmark = pytest.mark.e2e


@pytest.mark.parametrize("signum, code, how", [(signal.SIGINT, 130, "Ctrl-C"),
                                               (signal.SIGTERM, 143, "SIGTERM")])
def test_a_stopped_run_says_so_in_one_line_and_the_same_command_resumes(tmp_path, signum, code,
                                                                       how):
    data = synthetic_imdb.write_archive(str(tmp_path / "imdb.tar.gz"), per_folder=30)
    output_dir = str(tmp_path / "out")
    args = ["--data", data, "--output-dir", output_dir, *FAST_TRAINING, *NO_VALUE_GATES]
    run = subprocess.Popen([os.path.join(BIN, "imdb-lstm"), "run", *args], cwd=PROJECT_ROOT,
                           stderr=subprocess.PIPE, text=True)
    seen = []
    for line in run.stderr:
        seen.append(line)
        if "[Transform] running" in line:
            run.send_signal(signum)
            stopped_at = time.monotonic()
            break
    assert run.wait(timeout=60) == code
    assert time.monotonic() - stopped_at < 30
    console = "".join(seen) + run.stderr.read()
    assert "Traceback" not in console
    assert f"run stopped by {how}; re-run the same command to resume" in console
    assert versions(os.path.join(output_dir, "serving", "imdb-lstm")) == []

    again = imdb_lstm(*args)
    assert again.returncode == 0, again.stderr
    assert "[ImdbExampleGen] done (cached)" in again.stderr  # resumed, not started over
    assert len(versions(os.path.join(output_dir, "serving", "imdb-lstm"))) == 1
