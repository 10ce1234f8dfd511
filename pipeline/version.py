"""Which code a run used: the package version, and the git commit when run from a checkout."""
import subprocess
from importlib import metadata

from pipeline.config import PROJECT_ROOT


def code_version() -> str:
    try:
        version = metadata.version("imdb-lstm-tfx")
    except metadata.PackageNotFoundError:
        version = "unknown"
    try:
        commit = subprocess.run(["git", "describe", "--always", "--dirty"], cwd=PROJECT_ROOT,
                                capture_output=True, text=True, timeout=10, check=True)
    except (OSError, subprocess.SubprocessError):
        return version
    return f"{version} ({commit.stdout.strip()})"
