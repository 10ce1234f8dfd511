"""Chooses the tf.distribute strategy the Trainer builds and fits the model under."""
import json
import logging
import os

import tensorflow as tf

from trainer.config import STRATEGIES

_log = logging.getLogger(__name__)


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


def _cluster_resolver() -> tf.distribute.cluster_resolver.TFConfigClusterResolver:
    try:
        tf_config = json.loads(os.environ.get("TF_CONFIG") or "{}")
    except json.JSONDecodeError as e:
        raise StrategyError(f"strategy 'multi_worker': TF_CONFIG is not JSON ({e})") from e
    if not tf_config.get("cluster") or "type" not in tf_config.get("task", {}):
        raise StrategyError(
            "strategy 'multi_worker' needs TF_CONFIG naming the cluster and this process's task, "
            'e.g. {"cluster": {"worker": ["host1:port", "host2:port"]}, '
            '"task": {"type": "worker", "index": 0}}; Kubeflow and Vertex AI training jobs set '
            "it for every worker. Use 'mirrored' for several GPUs on one machine.")
    return tf.distribute.cluster_resolver.TFConfigClusterResolver()


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
        strategy = tf.distribute.MultiWorkerMirroredStrategy(_cluster_resolver())
    else:
        strategy = tf.distribute.TPUStrategy(_tpu_resolver(required=True))
    _log.info("distribution strategy %s (%s): %d replica(s) in sync, %d GPU(s) visible, task %s",
              name, type(strategy).__name__, strategy.num_replicas_in_sync, len(gpus),
              task_name(strategy))
    return strategy


def is_multi_worker(strategy: tf.distribute.Strategy) -> bool:
    return isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy)


def task_name(strategy: tf.distribute.Strategy) -> str:
    resolver = strategy.cluster_resolver
    return f"{resolver.task_type}:{resolver.task_id}" if resolver else "local"


def is_chief(strategy: tf.distribute.Strategy) -> bool:
    """Whether this process writes the model: the `chief` task, or worker 0 of a cluster without
    one (TF_CONFIG's conventions); always, when training is not multi-worker."""
    if not is_multi_worker(strategy):
        return True
    resolver = strategy.cluster_resolver
    if resolver.task_type == "chief":
        return True
    return (resolver.task_type == "worker" and resolver.task_id == 0
            and "chief" not in resolver.cluster_spec().as_dict())
