"""Tiny synthetic IMDB data in the Stanford aclImdb layout. Never real review text.

Positive reviews lean on positive words and negative on negative ones, so a model can learn
something from a few hundred of them.
"""
import io
import os
import random
import tarfile
from typing import Dict, Iterator, Tuple

POSITIVE = ["great", "wonderful", "brilliant", "moving", "superb", "loved", "masterpiece"]
NEGATIVE = ["awful", "boring", "terrible", "dull", "waste", "hated", "mess"]
FILLER = ["the", "film", "plot", "actor", "scene", "story", "director", "movie", "a", "and",
          "it", "was", "with", "camera", "music", "ending", "cast", "script"]


def _review(rng: random.Random, positive: bool) -> str:
    words = []
    # Mostly short; one in five long enough for the report's longer length buckets.
    length = rng.randint(8, 60) if rng.random() < 0.8 else rng.randint(100, 450)
    for _ in range(length):
        roll = rng.random()
        if roll < 0.2:
            words.append(rng.choice(POSITIVE if positive else NEGATIVE))
        elif roll < 0.25:
            words.append(rng.choice(NEGATIVE if positive else POSITIVE))
        else:
            words.append(rng.choice(FILLER))
    text = " ".join(words).capitalize()
    cut = len(text) // 2
    return f"{text[:cut]}.<br /><br />{text[cut:].strip()}!"


def reviews(per_folder: int, seed: int = 0, unlabelled: int = 1) -> Iterator[Tuple[str, str]]:
    """(relative path, text) for `per_folder` reviews in each of train/test x pos/neg, and
    `unlabelled` reviews of either kind in train/unsup."""
    rng = random.Random(seed)
    next_id = 0
    for split in ("train", "test"):
        for folder in ("pos", "neg"):
            for _ in range(per_folder):
                rating = rng.randint(7, 10) if folder == "pos" else rng.randint(1, 4)
                yield (f"aclImdb/{split}/{folder}/{next_id}_{rating}.txt",
                       _review(rng, folder == "pos"))
                next_id += 1
    for _ in range(unlabelled):
        yield f"aclImdb/train/unsup/{next_id}_0.txt", _review(rng, rng.random() < 0.5)
        next_id += 1
    yield "aclImdb/train/urls_pos.txt", "http://www.imdb.example/title/tt0000000/usercomments"


def write_tree(root: str, per_folder: int = 50, seed: int = 0,
               extra: Dict[str, bytes] = None, unlabelled: int = 1) -> str:
    for path, text in reviews(per_folder, seed, unlabelled):
        _write(root, path, text.encode("utf-8"))
    for path, data in (extra or {}).items():
        _write(root, path, data)
    return root


def _write(root: str, path: str, data: bytes) -> None:
    full = os.path.join(root, path)
    os.makedirs(os.path.dirname(full), exist_ok=True)
    with open(full, "wb") as f:
        f.write(data)


def write_archive(path: str, per_folder: int = 50, seed: int = 0,
                  extra: Dict[str, bytes] = None, skip=(), unlabelled: int = 1) -> str:
    """A .tar.gz like the Stanford one; `extra` adds (or replaces) members, `skip` drops them."""
    members = {p: t.encode("utf-8") for p, t in reviews(per_folder, seed, unlabelled)}
    members.update(extra or {})
    with tarfile.open(path, "w:gz") as archive:
        for name, data in members.items():
            if any(name.startswith(prefix) for prefix in skip):
                continue
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return path
