"""The model serving now, for Beam's RunInference: the newest version in a serving directory
(the Pusher's `<base>/<version>/`), swapped for a newer one when it appears.

The refresh lives in the model object and not in a side input: RunInference's side-input refresh
(`WatchFilePattern`) fails on the local FnApiRunner ("PCollection ... accessed as a singleton
view"), while a model that looks for a newer version every `poll_seconds` on its own works on any
runner, each worker switching within one poll interval. Beam's TensorFlow handler does not import
with this stack (tensorflow_hub 0.15) and Keras 3 cannot load these SavedModels; the handler calls
the SavedModel's raw-text signature (trainer/export.py) itself.
"""
import logging
import math
import posixpath
import time
from typing import Any, Callable, Dict, Iterable, List, Optional, Sequence, Set, Tuple

import numpy as np
import tensorflow as tf
from apache_beam.ml.inference.base import ModelHandler, PredictionResult
from tfx.dsl.io import fileio

from trainer import features
from trainer.export import RAW_TEXT_SIGNATURE

_log = logging.getLogger("streaming.scoring")
_PROBE = ["a probe review, to check that a version scores before it serves"]


class ModelVersionError(RuntimeError):
    """No version of the serving directory can be loaded and score."""


def versions(base: str) -> List[str]:
    """The complete versions under `base`, oldest first (the Pusher renames a version into place
    once copied, so a numeric name is a complete model)."""
    if not fileio.isdir(base):
        return []
    names = (name.strip("/") for name in fileio.listdir(base))
    return sorted((name for name in names if name.isdigit()), key=int)


class LoadedVersion:
    """One version of the serving model, loaded and checked: it scores a probe review."""

    def __init__(self, base: str, version: str):
        self.version = version
        self._model = tf.saved_model.load(posixpath.join(base, version))
        self._signature = self._model.signatures[RAW_TEXT_SIGNATURE]
        probe = self.score(_PROBE)
        if probe.shape != (1,) or not 0 <= probe[0] <= 1:
            raise ModelVersionError(f"scored a probe review {probe!r}, not one probability")

    def score(self, reviews: Sequence[str]) -> np.ndarray:
        outputs = self._signature(review=tf.constant(list(reviews), dtype=tf.string))
        return outputs[features.PREDICTION_KEY].numpy().reshape(-1)


class LatestVersion:
    """Scores with the newest version that loads; looks for a newer one at most every
    `poll_seconds`. A version that fails to load or to score a probe is refused (logged once)
    and the one serving kept."""

    def __init__(self, base: str, poll_seconds: float,
                 clock: Callable[[], float] = time.monotonic):
        self._base = base
        self._poll_seconds = poll_seconds
        self._clock = clock
        self._refused: Set[str] = set()
        self._checked = -math.inf
        self.current: Optional[LoadedVersion] = None
        self.refresh()
        if self.current is None:
            raise ModelVersionError(f"{base}: no model version loads (versions: "
                                    f"{versions(base) or 'none'}); push one first")

    def refresh(self) -> None:
        if self._clock() - self._checked < self._poll_seconds:
            return
        self._checked = self._clock()
        serving = int(self.current.version) if self.current else -1
        for version in reversed(versions(self._base)):
            if int(version) <= serving or version in self._refused:
                continue
            try:
                loaded = LoadedVersion(self._base, version)
            except Exception as e:  # noqa: BLE001  (whatever breaks a version, keep serving)
                self._refused.add(version)
                _log.error("refused model version %s: %s: %s; still serving version %s",
                           version, type(e).__name__, str(e).splitlines()[0] if str(e) else "",
                           self.current.version if self.current else "none")
                continue
            if self.current:
                _log.warning("now serving model version %s (was %s)", version,
                             self.current.version)
            self.current = loaded
            return

    def score(self, reviews: Sequence[str]) -> Tuple[str, np.ndarray]:
        """(the version that scored, the scores); refreshes first."""
        self.refresh()
        return self.current.version, self.current.score(reviews)


class ServingModelHandler(ModelHandler[Any, PredictionResult, LatestVersion]):
    """RunInference over elements with a `review` text; each PredictionResult's model_id is the
    version that scored it."""

    def __init__(self, base: str, poll_seconds: float, max_batch_size: int = 256):
        super().__init__(min_batch_size=1, max_batch_size=max_batch_size)
        self._base = base
        self._poll_seconds = poll_seconds

    def load_model(self) -> LatestVersion:
        return LatestVersion(self._base, self._poll_seconds)

    def run_inference(self, batch: Sequence[Any], model: LatestVersion,
                      inference_args: Optional[Dict[str, Any]] = None
                      ) -> Iterable[PredictionResult]:
        version, scores = model.score([element.review for element in batch])
        return [PredictionResult(element, float(score), version)
                for element, score in zip(batch, scores)]
