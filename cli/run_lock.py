"""One run at a time per output directory and pipeline. Two runs into the same place would share
ML Metadata, the serving directory and the log of that second, and each would report the other's
pushes; the second one is refused instead, naming the first. The lock is the kernel's (flock), so
a run killed with -9 leaves none behind. A remote output directory (gs://...) is not locked."""
import contextlib
import datetime
import fcntl
import os
from typing import Iterator

from pipeline.config import PipelineConfig


class Busy(RuntimeError):
    """Another run holds the output directory."""


@contextlib.contextmanager
def exclusive(config: PipelineConfig) -> Iterator[None]:
    if "://" in config.output_dir:
        yield
        return
    path = os.path.join(config.output_dir, "locks", f"{config.pipeline_name}.lock")
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "a+") as f:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            f.seek(0)
            raise Busy(f"another run ({f.read().strip() or 'starting'}) is using "
                       f"{config.output_dir} for pipeline {config.pipeline_name}; wait for it "
                       "to finish, or pass another --output-dir or --pipeline-name") from None
        f.seek(0)
        f.truncate()
        started = datetime.datetime.now().isoformat(sep=" ", timespec="seconds")
        f.write(f"pid {os.getpid()}, started {started}")
        f.flush()
        try:
            yield
        finally:
            f.seek(0)
            f.truncate()
            fcntl.flock(f, fcntl.LOCK_UN)
