"""Tiny synthetic IMDB data in the Stanford aclImdb layout. Never real review text.

Positive reviews lean on positive words and negative on negative ones, so a model can learn
something from a few hundred of them. Like the real data, ids count from 0 in each folder and
`urls_{folder}.txt` names each review's film, a few reviews a film, no film shared by two folders.
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
REVIEWS_PER_FILM = 3


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
    `unlabelled` reviews of either kind in train/unsup, then each folder's urls file."""
    rng = random.Random(seed)
    folders = [(f"{split}/{folder}", per_folder) for split in ("train", "test")
               for folder in ("pos", "neg")] + [("train/unsup", unlabelled)]
    for folder_number, (folder, count) in enumerate(folders):
        for review_id in range(count):
            positive = folder.endswith("pos") or (folder.endswith("unsup") and rng.random() < 0.5)
            rating = (0 if folder.endswith("unsup") else
                      rng.randint(7, 10) if positive else rng.randint(1, 4))
            yield f"aclImdb/{folder}/{review_id}_{rating}.txt", _review(rng, positive)
        split, label_folder = folder.split("/")
        yield f"aclImdb/{split}/urls_{label_folder}.txt", "".join(
            f"http://www.imdb.example/title/tt{folder_number}{i // REVIEWS_PER_FILM:06d}/"
            "usercomments\n" for i in range(count))


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
