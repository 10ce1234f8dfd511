"""Stopping a long-running command on request: SIGTERM (what Kubernetes, systemd and `kill`
send) raises Stopped in the main thread, so the command can say what it leaves behind in one
line instead of dying mid-sentence."""
import contextlib
import signal
from typing import Iterator


class Stopped(BaseException):
    """SIGTERM arrived. A BaseException, like KeyboardInterrupt, so that no `except Exception` on
    the way out of a pipeline run takes it for a failure of the run."""


@contextlib.contextmanager
def sigterm_stops() -> Iterator[None]:
    def stop(signum, frame):
        raise Stopped()

    previous = signal.signal(signal.SIGTERM, stop)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
