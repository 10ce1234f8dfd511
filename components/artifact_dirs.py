"""How TFX lays out the files of a split artifact, for code that has only its URI (a component's
executor, or `imdb-lstm report` reading a past run out of ML Metadata)."""
import os
from typing import Dict

from tfx.dsl.io import fileio

_SPLIT_PREFIX = "Split-"


def split_dirs(uri: str) -> Dict[str, str]:
    """{'eval': '<uri>/Split-eval', 'test': ..., 'train': ...}, sorted by split name."""
    names = (name.strip("/") for name in fileio.listdir(uri))
    return {name[len(_SPLIT_PREFIX):]: os.path.join(uri, name)
            for name in sorted(names) if name.startswith(_SPLIT_PREFIX)}
