"""What only a Kubeflow cluster needs to know; everything else is the PipelineConfig. Light to
import (protos only), so the CLI can build its flags from it."""
import dataclasses
from typing import Optional

from kfp.pipeline_spec import pipeline_spec_pb2

# Where the Dockerfile puts the project in the image: the image's working directory, which every
# task runs in. The curated schema is read relative to it, so the package holds no install path.
IMAGE_PROJECT_DIR = "/opt/imdb-lstm-tfx"
IMAGE_SCHEMA_PATH = "schemas/schema.pbtxt"

ResourceSpec = pipeline_spec_pb2.PipelineDeploymentConfig.PipelineContainerSpec.ResourceSpec


@dataclasses.dataclass(frozen=True)
class KubeflowSettings:
    image: Optional[str] = None  # required; Optional only so a missing --image reads well
    # Trainer pod: vCPUs, memory in GB, and an accelerator (e.g. NVIDIA_TESLA_T4, TPU_V3) with
    # its count; 0 accelerators means CPU only.
    trainer_cpu: float = 4.0
    trainer_memory_gb: float = 16.0
    trainer_accelerator: Optional[str] = None
    trainer_accelerator_count: int = 0
    # 'latest-blessed' (Vertex AI Pipelines) or 'none' (open-source KFP, which cannot execute
    # TFX's resolver nodes: the gate is then the lower bounds alone).
    baseline: str = "latest-blessed"

    def __post_init__(self):
        if not self.image:
            raise ValueError("--image is required: the pipeline image built from the Dockerfile "
                             "(docs/KUBEFLOW.md)")
        if self.baseline not in ("latest-blessed", "none"):
            raise ValueError(f"baseline must be 'latest-blessed' or 'none', got {self.baseline!r}")
        if self.trainer_cpu <= 0 or self.trainer_memory_gb <= 0:
            raise ValueError("trainer_cpu and trainer_memory_gb must be > 0")
        if self.trainer_accelerator_count < 0 or \
                bool(self.trainer_accelerator) != bool(self.trainer_accelerator_count):
            raise ValueError("give both trainer_accelerator and trainer_accelerator_count > 0, "
                             "or neither")

    def trainer_resources(self) -> ResourceSpec:
        resources = ResourceSpec(cpu_limit=self.trainer_cpu, memory_limit=self.trainer_memory_gb)
        if self.trainer_accelerator:
            resources.accelerator.type = self.trainer_accelerator
            resources.accelerator.count = self.trainer_accelerator_count
        return resources
