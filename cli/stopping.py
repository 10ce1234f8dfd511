"""Stopping a long-running command on request: Ctrl-C (SIGINT) and SIGTERM (what Kubernetes,
systemd and `kill` send) raise Stopped in the main thread, so the command says what it leaves
behind in one line instead of dying mid-sentence with a traceback.

Libraries on the way may catch the exception (Beam and TFX wrap, and sometimes retry, what their
workers raise), so the stop is also remembered (`requested()`), and if the command has not ended
`grace_seconds` after the signal, it says its line and exits anyway: a stop never waits on a
library. State survives that as it survives kill -9 (docs/RELIABILITY.md).
"""
import contextlib
import os
import signal
import sys
import threading
import time
from typing import Callable, Iterator, Optional

_SIGNALS = {signal.SIGINT: ("Ctrl-C", 130), signal.SIGTERM: ("SIGTERM", 143)}


class Stopped(BaseException):
    """A stop was asked for. A BaseException, like KeyboardInterrupt, so that no `except
    Exception` on the way out of a pipeline run takes it for a failure of the run."""

    def __init__(self, how: str, exit_code: int):
        super().__init__(how)
        self.how = how
        self.exit_code = exit_code


_requested: Optional[Stopped] = None
_farewell_lock = threading.Lock()
_exit_code: Optional[int] = None  # set once the farewell is said


def requested() -> Optional[Stopped]:
    """The stop asked for, if any, even where a library caught Stopped and raised something else
    in its place."""
    return _requested


def stopped_by(error: BaseException) -> Optional[Stopped]:
    """`error` if it is the stop, the stop if one was asked for, else None."""
    if isinstance(error, Stopped):
        return error
    if isinstance(error, KeyboardInterrupt):
        return Stopped(*_SIGNALS[signal.SIGINT])
    return _requested


def farewell_once(farewell: Callable[[Stopped], int], stop: Stopped) -> int:
    """`farewell(stop)` (logs the command's line, returns its exit code), once per process."""
    global _exit_code
    with _farewell_lock:
        if _exit_code is None:
            _exit_code = farewell(stop)
        return _exit_code


def _exit_after(grace_seconds: float, farewell: Callable[[Stopped], int]) -> None:
    time.sleep(grace_seconds)
    code = farewell_once(farewell, _requested)
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


@contextlib.contextmanager
def on_signals(farewell: Callable[[Stopped], int], grace_seconds: float = 10.0) -> Iterator[None]:
    """Within: SIGINT and SIGTERM raise Stopped; `farewell(stop)` logs the command's one line
    and returns its exit code, called here only if the command is still running
    `grace_seconds` later."""
    def stop(signum, frame):
        global _requested
        if _requested is None:
            _requested = Stopped(*_SIGNALS[signum])
            threading.Thread(target=_exit_after, args=(grace_seconds, farewell),
                             daemon=True).start()
        raise _requested

    previous = {signum: signal.signal(signum, stop) for signum in _SIGNALS}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def until_stopped(command: Callable[[], int], farewell: Callable[[Stopped], int]) -> int:
    """`command()`'s exit code, or, if a stop (Ctrl-C, SIGTERM) ends it first, `farewell`'s,
    however a library on the way wrapped the stop."""
    try:
        with on_signals(farewell):
            return command()
    except BaseException as e:  # noqa: BLE001  (Beam and TFX wrap what they catch)
        stop = stopped_by(e)
        if not stop:
            raise
        return farewell_once(farewell, stop)
