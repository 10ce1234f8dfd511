"""Two runs on one output directory: the second is refused in one line naming the first."""
import os
import subprocess

import pytest

from cli import run_lock
from pipeline import config as pipeline_config
from pipeline_runs import BIN, PROJECT_ROOT


def test_a_second_run_is_refused_naming_the_first_and_the_lock_is_freed_after(tmp_path):
    config = pipeline_config.load(overrides={"output_dir": str(tmp_path)}, environ={})
    with run_lock.exclusive(config):
        with pytest.raises(run_lock.Busy, match=rf"^another run \(pid {os.getpid()}, started "
                                                rf".*\) is using {tmp_path} for pipeline "
                                                "imdb-lstm; wait for it to finish"):
            with run_lock.exclusive(config):
                pass
        other = pipeline_config.load(overrides={"output_dir": str(tmp_path),
                                                "pipeline_name": "other"}, environ={})
        with run_lock.exclusive(other):  # another pipeline in the same directory may run
            pass
    with run_lock.exclusive(config):  # free again
        pass


@pytest.mark.parametrize("command", [["run", "--data", "/nowhere"],
                                     ["watch", "--landing", "/tmp"]], ids=["run", "watch"])
def test_the_cli_refuses_a_run_while_another_holds_the_directory(tmp_path, command):
    config = pipeline_config.load(overrides={"output_dir": str(tmp_path)}, environ={})
    with run_lock.exclusive(config):
        process = subprocess.run([os.path.join(BIN, "imdb-lstm"), *command,
                                  "--output-dir", str(tmp_path)], cwd=PROJECT_ROOT,
                                 capture_output=True, text=True, timeout=120)
    assert process.returncode == 1
    assert process.stderr.strip().startswith(
        f"imdb-lstm {command[0]}: another run (pid {os.getpid()}")
    assert not os.path.exists(tmp_path / "logs")  # refused before it wrote anything
