"""The streaming commands' paths, checked before any data is read: a path that cannot serve is one
line naming the flag, the path and the problem. Only local paths are checked: a URL (gs://,
https://) or a Pub/Sub source is the runner's to open."""
import logging
import os


class PathProblem(ValueError):
    """A path a command cannot use; its text is the line the user sees."""


def _local(path: str) -> bool:
    return "://" not in path and not path.startswith("pubsub:")


def existing(flag: str, path: str) -> None:
    """A file or directory that must be there now (an input read once)."""
    if _local(path) and not os.path.exists(path):
        raise PathProblem(f"{flag} {path}: no such file or directory")


def directory(flag: str, path: str, must_exist: bool = False) -> bool:
    """A directory, read or written; False when it is not there yet (a writer may create it
    later, or the command creates it). A file there, or with `must_exist` nothing, is a
    problem."""
    if not _local(path):
        return True
    if os.path.isfile(path):
        raise PathProblem(f"{flag} {path}: is a file, not a directory")
    if os.path.isdir(path):
        return True
    if must_exist:
        raise PathProblem(f"{flag} {path}: no such directory")
    return False


def writable_directory(flag: str, path: str) -> None:
    """A directory the command writes in: there and writable, or creatable where it would go."""
    if not _local(path):
        return
    directory(flag, path)
    nearest = os.path.abspath(path)
    while not os.path.exists(nearest):
        nearest = os.path.dirname(nearest)
    if not os.path.isdir(nearest):
        raise PathProblem(f"{flag} {path}: {nearest} is a file, not a directory")
    if not os.access(nearest, os.W_OK | os.X_OK):
        raise PathProblem(f"{flag} {path}: {nearest} is not writable")


def followed(flag: str, path: str, log: logging.Logger) -> None:
    """A directory a long-running command follows: another job may create it later, so a missing
    one is waited for, and said so once."""
    if not directory(flag, path):
        log.info("%s %s does not exist yet: waiting for it to appear", flag, path)
