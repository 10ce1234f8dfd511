"""Logging for humans: the console shows per-component progress, our own messages and errors;
the log file gets everything, TensorFlow's and Beam's chatter included."""
import contextlib
import logging
import os
import sys
import threading
import time
import warnings
from typing import Optional

# C++ TensorFlow logs are written straight to stderr and only this variable silences them; it
# must be set before TensorFlow is imported. A user's own setting wins.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
# TFX 1.16 pins Python 3.10 (see README) and google-cloud-storage 2.x (constraints.txt); Google's
# SDKs warn about both on every import, and neither is the user's to change.
warnings.filterwarnings("ignore", message=".*non-supported Python version", category=FutureWarning)
warnings.filterwarnings("ignore", message=".*google-cloud-storage < 3", category=FutureWarning)

_OUR_LOGGERS = ("pipeline", "components", "trainer")


def quiet_libraries() -> None:
    """For commands without a log file: only errors from TensorFlow, TFMA and Google's SDKs."""
    warnings.filterwarnings("ignore", category=FutureWarning)
    # Keras' notice at the end of the first epoch over data of unknown length, which every
    # Trainer dataset is (length buckets regroup it): how such an epoch ends, not a fault.
    warnings.filterwarnings("ignore", message="Your input ran out of data", category=UserWarning)
    for name in ("tensorflow", "absl", "urllib3"):
        logging.getLogger(name).setLevel(logging.ERROR)
    sys.unraisablehook = _unless_tensorflow_teardown(sys.unraisablehook)


def _unless_tensorflow_teardown(hook):
    """TensorFlow's functions still loaded at exit fail in __del__ once the interpreter has torn
    down the modules they use ("Exception ignored in: AtomicFunction.__del__"), a screenful
    after a clean finish."""
    def unraisable(report):
        if getattr(report.object, "__qualname__", "") != "AtomicFunction.__del__":
            hook(report)
    return unraisable


_RUNNING, _FINISHED, _CACHED = ("Component %s is running.", "Component %s is finished.",
                                "A cached execution %d is used.")


class PeakMemory:
    """Samples this process's resident memory; `peak()` is the highest since the last `reset()`.

    LocalDagRunner runs every component, Beam's in-memory runner included, in this process.
    """

    def __init__(self, interval_s: float = 0.2):
        self._page = os.sysconf("SC_PAGE_SIZE")
        self._peak = 0
        self._interval_s = interval_s
        threading.Thread(target=self._sample_forever, daemon=True).start()

    def _rss(self) -> int:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * self._page

    def _sample_forever(self) -> None:
        while True:
            self._peak = max(self._peak, self._rss())
            time.sleep(self._interval_s)

    def reset(self) -> None:
        self._peak = self._rss()

    def peak(self) -> int:
        return max(self._peak, self._rss())


class ConsoleProgress(logging.Handler):
    """One line per component start and end (wall time, peak memory), plus our loggers and
    errors."""

    def __init__(self, stream=None):
        super().__init__(logging.INFO)
        self._stream = stream or sys.stderr
        self._started = {}
        self._cached = set()
        self._current: Optional[str] = None
        self._memory = PeakMemory()

    def _write(self, line: str) -> None:
        self._stream.write(f"{time.strftime('%H:%M:%S')} {line}\n")
        self._stream.flush()

    def emit(self, record: logging.LogRecord) -> None:
        if record.msg == _RUNNING:
            self._current = record.args[0]
            self._started[self._current] = time.monotonic()
            self._memory.reset()
            self._write(f"[{self._current}] running")
        elif record.msg == _CACHED and self._current:
            self._cached.add(self._current)
        elif record.msg == _FINISHED:
            node = record.args[0]
            elapsed = time.monotonic() - self._started.pop(node, time.monotonic())
            note = ("cached" if node in self._cached else
                    f"{elapsed:.1f} s, peak memory {self._memory.peak() / 2**30:.2f} GiB")
            self._write(f"[{node}] done ({note})")
        elif record.levelno >= logging.ERROR or record.name.split(".")[0] in _OUR_LOGGERS:
            prefix = "" if record.levelno < logging.WARNING else f"{record.levelname}: "
            self._write(prefix + record.getMessage())


def setup(log_dir: str, name: str = "run") -> str:
    """Routes all logging to a new file in `log_dir` and progress to the console; returns the
    file's path. The console writes to a copy of stderr, so `output_to` does not silence it."""
    os.makedirs(log_dir, exist_ok=True)
    path = os.path.join(log_dir, f"{name}-{time.strftime('%Y%m%d-%H%M%S')}.log")
    root = logging.getLogger()
    for handler in list(root.handlers):
        root.removeHandler(handler)
    root.setLevel(logging.INFO)
    file_handler = logging.FileHandler(path)
    file_handler.setFormatter(logging.Formatter(
        "%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root.addHandler(file_handler)
    sys.stderr.flush()
    root.addHandler(ConsoleProgress(os.fdopen(os.dup(sys.stderr.fileno()), "w", buffering=1)))
    logging.captureWarnings(True)
    from absl import logging as absl_logging
    absl_logging.use_python_logging(quiet=True)
    # Explicitly, not left at the flag default: saving a SavedModel sets absl to FATAL and then
    # restores the previous verbosity, which for the unset default means WARNING, silencing
    # TFX's per-component INFO lines for the rest of the run.
    absl_logging.set_verbosity(absl_logging.INFO)
    return path


@contextlib.contextmanager
def output_to(path: str):
    """Sends whatever writes to stdout/stderr directly (C++ TensorFlow logs, the setuptools run
    that packages the module file, Beam) to the log file while the block runs."""
    sys.stdout.flush()
    sys.stderr.flush()
    saved = [os.dup(fd) for fd in (1, 2)]
    log_fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    try:
        for fd in (1, 2):
            os.dup2(log_fd, fd)
        yield
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        for fd, original in zip((1, 2), saved):
            os.dup2(original, fd)
            os.close(original)
        os.close(log_fd)
