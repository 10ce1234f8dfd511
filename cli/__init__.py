"""The `imdb-lstm` commands and what only they use: argument parsing, console logging, stopping
on signals, the run lock, `watch`, and the handlers of `report`, `stream`, `score` and
`kubeflow`. The top layer: it imports `pipeline`, `streaming`, `kubeflow` and what lies below
them, and nothing imports it (tests/test_structure.py)."""
