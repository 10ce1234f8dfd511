"""The directory feed's follower (streaming/records.py): each poll reads the files that landed
since the last one, once, and remembers a file only while it is in the directory, so its state
is bounded by what the feed holds rather than by how long the job has run."""
import os

from streaming import records


class SetState:
    """Beam's SetState as the DoFn uses it: read, add, clear."""

    def __init__(self):
        self.values = set()

    def read(self):
        return set(self.values)

    def add(self, value):
        self.values.add(value)

    def clear(self):
        self.values.clear()


def write(directory, name: str, *lines: str) -> str:
    path = os.path.join(directory, name)
    with open(path, "w") as f:
        f.write("".join(line + "\n" for line in lines))
    return path


def poll(follower, state):
    """One poll: the lines read (their data), checking that it ends with a Tick."""
    *lines, tick = list(follower.process(("feed", 0), seen=state))
    assert isinstance(tick, records.Tick)
    return [line.data.decode() for line in lines]


def test_each_file_is_read_once_and_forgotten_once_it_leaves_the_feed(tmp_path):
    follower = records._ReadNewFiles(os.path.join(str(tmp_path), "*.jsonl*"))
    state = SetState()
    first = write(str(tmp_path), "a.jsonl", '{"n": 1}', '{"n": 2}')
    write(str(tmp_path), "notes.txt", "not a feed file")
    assert poll(follower, state) == ['{"n": 1}', '{"n": 2}']
    second = write(str(tmp_path), "b.jsonl", '{"n": 3}')
    assert poll(follower, state) == ['{"n": 3}']
    assert poll(follower, state) == []  # nothing new
    assert state.values == {first, second}
    os.remove(first)
    assert poll(follower, state) == []
    assert state.values == {second}  # the removed file is forgotten, the other kept
