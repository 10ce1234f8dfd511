"""The pipeline as the `tfx` CLI runs it, from the repository root:

    tfx pipeline create --engine=local --pipeline_path cli/tfx_cli_pipeline.py
    tfx run create --engine=local --pipeline_name imdb-lstm

The `tfx` CLI passes no arguments: configure with IMDB_LSTM_CONFIG (a YAML file) and
IMDB_LSTM_* variables, e.g. IMDB_LSTM_DATA=/path/to/aclImdb_v1.tar.gz (see pipeline/config.py).
"""
import os
import sys

# Run as a script, this file's folder comes first on sys.path; the project root must instead,
# for the `cli`, `pipeline` and other packages.
sys.path[0] = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

from cli import logs  # noqa: E402  (first: quiets TensorFlow before it is imported)
from cli import run_lock  # noqa: E402
from pipeline import config as pipeline_config  # noqa: E402
from pipeline import local_runner  # noqa: E402

if __name__ == "__main__":
    resolved = pipeline_config.load()
    with run_lock.exclusive(resolved):
        log_path = logs.setup(resolved.log_dir)
        print(f"full log: {log_path}", file=sys.stderr)
        with logs.output_to(log_path):
            local_runner.run(resolved)
