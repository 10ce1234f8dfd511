# The pipeline image for Kubeflow Pipelines / Vertex AI Pipelines: TFX's own 1.16.0 image (the one
# TFX's KFP v2 runner defaults to; Python 3.10, TensorFlow 2.16, Beam) plus this project, so the
# components find `components.*` and `trainer.*` by module path. Build and push (docs/KUBEFLOW.md):
#   docker build -t REGISTRY/imdb-lstm-tfx:TAG . && docker push REGISTRY/imdb-lstm-tfx:TAG
# No Docker engine runs on our development machines: this file is not built by CI.
FROM gcr.io/tfx-oss-public/tfx:1.16.0

WORKDIR /opt/imdb-lstm-tfx
COPY setup.py pyproject.toml constraints.txt ./
COPY cli/ cli/
COPY pipeline/ pipeline/
COPY components/ components/
COPY trainer/ trainer/
COPY kubeflow/ kubeflow/
COPY streaming/ streaming/
COPY imdb_lstm/ imdb_lstm/
COPY schemas/ schemas/

# --no-deps keeps the base image's TFX stack as it is; then only what the project adds to it,
# at the versions it is tested with.
RUN python -m pip install --no-cache-dir --no-deps . \
 && python -m pip install --no-cache-dir --constraint constraints.txt matplotlib Jinja2 PyYAML dill \
 && python -c "import components.evaluation_report, trainer.tfx_module, pipeline.pipeline"

# TFX's entrypoint (python -m tfx.orchestration.kubeflow.v2.container.kubeflow_v2_run_executor)
# comes from the compiled package, not from here.
