"""A filesystem Pusher that does not push the same model twice.

Once a model is blessed and pushed, the latest-blessed-model resolver hands that same model back
as the baseline, so a cached re-run evaluates and blesses it again; TFX's Pusher would then copy
it into a new version directory. Each pushed version records the Model artifact it came from, and
pushing a model that already is the latest version reuses that version.
"""
import json
import logging
import os
import time
from typing import Any, Dict, List, Optional

from tfx.components.pusher import executor as tfx_pusher_executor
from tfx.components.pusher.component import Pusher
from tfx.dsl.components.base import executor_spec
from tfx.dsl.io import fileio
from tfx.proto import pusher_pb2
from tfx.types import artifact_utils, standard_component_specs
from tfx.utils import io_utils, proto_utils

_log = logging.getLogger(__name__)

# TF Serving ignores assets.extra/, the conventional home of files that travel with a SavedModel.
PUSH_INFO = os.path.join("assets.extra", "push_info.json")
PUSHED_AT = "pushed_at"  # the PushedModel's property: when the version appeared


def latest_version(base_directory: str) -> Optional[str]:
    if not fileio.isdir(base_directory):
        return None
    versions = [int(name) for name in (v.strip("/") for v in fileio.listdir(base_directory))
                if name.isdigit()]
    return str(max(versions)) if versions else None


class Executor(tfx_pusher_executor.Executor):

    def Do(self, input_dict: Dict[str, List[Any]], output_dict: Dict[str, List[Any]],
           exec_properties: Dict[str, Any]) -> None:
        model_push = artifact_utils.get_single_instance(
            output_dict[standard_component_specs.PUSHED_MODEL_KEY])
        if not self.CheckBlessing(input_dict):
            self._MarkNotPushed(model_push)
            return
        model = artifact_utils.get_single_instance(input_dict[standard_component_specs.MODEL_KEY])
        destination = pusher_pb2.PushDestination()
        proto_utils.json_to_proto(exec_properties[standard_component_specs.PUSH_DESTINATION_KEY],
                                  destination)
        base_directory = destination.filesystem.base_directory

        latest = latest_version(base_directory)
        if latest is not None:
            info_path = os.path.join(base_directory, latest, PUSH_INFO)
            if fileio.exists(info_path):
                with fileio.open(info_path) as f:
                    info = json.load(f)
                if info.get("model_uri") == model.uri:
                    _log.info("model %s is already serving as version %s; not pushing it again",
                              model.uri, latest)
                    self._MarkPushed(model_push, os.path.join(base_directory, latest), latest)
                    model_push.set_int_custom_property("new_version", 0)
                    return

        version = str(int(time.time()))
        while fileio.exists(os.path.join(base_directory, version)):  # two pushes in one second
            version = str(int(version) + 1)
        serving_path = os.path.join(base_directory, version)
        staging = serving_path + ".incomplete"
        io_utils.copy_dir(self.GetModelPath(input_dict), staging)
        io_utils.write_string_file(os.path.join(staging, PUSH_INFO), json.dumps(
            {"model_uri": model.uri, "model_id": model.id, "pushed_at": int(time.time())}))
        # A serving system polling base_directory must never see a half-copied version.
        fileio.rename(staging, serving_path)
        serving_since = time.time()
        io_utils.copy_dir(serving_path, model_push.uri)
        self._MarkPushed(model_push, serving_path, version)
        model_push.set_int_custom_property("new_version", 1)
        model_push.set_float_custom_property(PUSHED_AT, serving_since)
        _log.info("model pushed to %s", serving_path)


class VersionedPusher(Pusher):
    """TFX's Pusher to a filesystem directory of numbered versions, without duplicate pushes."""

    EXECUTOR_SPEC = executor_spec.ExecutorClassSpec(Executor)
