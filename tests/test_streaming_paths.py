"""The streaming commands refuse a path they cannot use before reading any data: one line naming
the flag, the path and the problem, exit status 2, nothing written under the output dir."""
import pytest

from cli import main as cli_main


@pytest.fixture
def workspace(tmp_path):
    """An existing directory, a file, a missing path, and an output dir that must stay empty."""
    (tmp_path / "dir").mkdir()
    (tmp_path / "file").write_text("not a directory\n")
    return tmp_path


def refused(workspace, capsys, *argv, has_output_dir=True):
    """The one line a refused command prints (replay and feed have no --output-dir)."""
    out = workspace / "out"
    status = cli_main.main([*argv, *(["--output-dir", str(out)] if has_output_dir else [])])
    lines = capsys.readouterr().err.strip().splitlines()
    assert status == 2
    assert not out.exists(), "a refused command wrote under its output dir"
    assert len(lines) == 1, lines
    return lines[0]


def test_batch_score_of_a_missing_input(workspace, capsys):
    line = refused(workspace, capsys, "score", "--batch", "--input", str(workspace / "nope"),
                   "--output", str(workspace / "scores"), "--model-dir", str(workspace / "dir"))
    assert line == f"imdb-lstm score: --input {workspace / 'nope'}: no such directory"
    assert not (workspace / "scores").exists()


def test_batch_score_of_an_archive_split_that_is_missing(workspace, capsys):
    line = refused(workspace, capsys, "score", "--batch", "--split", "unsup", "--input",
                   str(workspace / "nope.tar.gz"), "--output", str(workspace / "scores"))
    assert line.endswith("nope.tar.gz: no such file or directory")


def test_score_into_a_file(workspace, capsys):
    line = refused(workspace, capsys, "score", "--input", str(workspace / "dir"), "--output",
                   str(workspace / "file"), "--model-dir", str(workspace / "dir"))
    assert line == f"imdb-lstm score: --output {workspace / 'file'}: is a file, not a directory"


def test_score_into_a_directory_under_a_file(workspace, capsys):
    line = refused(workspace, capsys, "score", "--input", str(workspace / "dir"), "--output",
                   str(workspace / "file" / "scores"), "--model-dir", str(workspace / "dir"))
    assert line.endswith(f"{workspace / 'file'} is a file, not a directory")


def test_replay_to_a_landing_that_is_a_file(workspace, capsys):
    archive = workspace / "dir" / "archive.tar.gz"
    archive.write_bytes(b"never read")
    line = refused(workspace, capsys, "stream", "replay", "--data", str(archive), "--landing",
                   str(workspace / "file"), "--spans", "2", has_output_dir=False)
    assert line == (f"imdb-lstm stream replay: --landing {workspace / 'file'}: is a file, "
                    "not a directory")


def test_feed_from_missing_data(workspace, capsys):
    line = refused(workspace, capsys, "stream", "feed", "--data", str(workspace / "nope"),
                   "--to", str(workspace / "dir"), has_output_dir=False)
    assert line == f"imdb-lstm stream feed: --data {workspace / 'nope'}: no such file or directory"


def test_ingest_from_a_file(workspace, capsys):
    line = refused(workspace, capsys, "stream", "ingest", "--source", str(workspace / "file"),
                   "--landing", str(workspace / "landing"))
    assert line.startswith("imdb-lstm stream ingest: --source")
    assert not (workspace / "landing").exists()


def test_watch_once_on_a_missing_landing(workspace, capsys):
    line = refused(workspace, capsys, "watch", "--once", "--landing", str(workspace / "nope"))
    assert line == f"imdb-lstm watch: --landing {workspace / 'nope'}: no such directory"


def test_watch_on_a_landing_that_is_a_file(workspace, capsys):
    line = refused(workspace, capsys, "watch", "--landing", str(workspace / "file"))
    assert line.endswith("is a file, not a directory")



def test_run_local_into_a_work_dir_that_is_a_file(workspace, capsys):
    package = workspace / "dir" / "pipeline.yaml"
    package.write_text("root: {}\n")
    line = refused(workspace, capsys, "kubeflow", "run-local", str(package), "--work-dir",
                   str(workspace / "file"), has_output_dir=False)
    assert line == (f"imdb-lstm kubeflow run-local: --work-dir {workspace / 'file'}: is a file, "
                    "not a directory")


def test_run_local_of_a_package_that_is_not_yaml_is_one_line(workspace, capsys):
    package = workspace / "dir" / "pipeline.yaml"
    package.write_text("{ root: [\n")
    status = cli_main.main(["kubeflow", "run-local", str(package), "--work-dir",
                            str(workspace / "work")])
    [line] = capsys.readouterr().err.strip().splitlines()
    assert status == 1 and line.startswith(f"imdb-lstm kubeflow run-local: cannot read package "
                                           f"{package}: ")
    assert not (workspace / "work").exists()
