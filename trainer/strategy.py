"""Chooses the tf.distribute strategy the Trainer builds and fits the model under."""
import logging
import os

import tensorflow as tf

_log = logging.getLogger(__name__)

STRATEGIES = ("auto", "default", "one_device", "mirrored", "multi_worker", "tpu")


class StrategyError(RuntimeError):
    """The requested strategy cannot run on this hardware / configuration."""


def _tpu_resolver(required: bool):
    try:
        resolver = tf.distribute.cluster_resolver.TPUClusterResolver(
            tpu=os.environ.get("TPU_NAME", ""))
        tf.config.experimental_connect_to_cluster(resolver)
        tf.tpu.experimental.initialize_tpu_system(resolver)
        return resolver
    except (ValueError, RuntimeError, tf.errors.OpError) as e:
        if required:
            raise StrategyError(
                f"strategy 'tpu' needs a reachable TPU ({type(e).__name__}: {e}). Set TPU_NAME "
                "or run on a TPU VM; use --strategy auto to fall back to GPUs or CPU.") from e
        return None


def create(name: str) -> tf.distribute.Strategy:
    """`auto`: TPU if one is reachable, Mirrored on 2+ GPUs, OneDevice on one GPU, else the
    default (no-op) strategy."""
    if name not in STRATEGIES:
        raise StrategyError(f"unknown strategy {name!r}; choose one of {list(STRATEGIES)}")
    gpus = tf.config.list_physical_devices("GPU")
    if name == "auto":
        if os.environ.get("TPU_NAME") and _tpu_resolver(required=False):
            name = "tpu"
        else:
            name = "mirrored" if len(gpus) >= 2 else "one_device" if gpus else "default"
    if name == "default":
        strategy = tf.distribute.get_strategy()
    elif name == "one_device":
        strategy = tf.distribute.OneDeviceStrategy("/gpu:0" if gpus else "/cpu:0")
    elif name == "mirrored":
        # Without GPUs, mirror over the CPU devices (more than one only if configured so).
        devices = None if gpus else [d.name for d in tf.config.list_logical_devices("CPU")]
        strategy = tf.distribute.MirroredStrategy(devices)
    elif name == "multi_worker":
        raise StrategyError(
            "strategy 'multi_worker' is not available yet: Keras 3's Model.fit does not run "
            "under tf.distribute.MultiWorkerMirroredStrategy (keras-team/keras#20585), and the "
            "custom training loop that will is still to be written. Use 'mirrored' for "
            "several GPUs on one machine.")
    else:
        strategy = tf.distribute.TPUStrategy(_tpu_resolver(required=True))
    _log.info("distribution strategy %s: %d replica(s) in sync, %d GPU(s) visible",
              type(strategy).__name__, strategy.num_replicas_in_sync, len(gpus))
    return strategy
