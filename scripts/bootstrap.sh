#!/usr/bin/env bash
# Creates the project virtualenv (.venv) with Python 3.10 and installs the project from the pinned
# constraints. Idempotent: re-running after constraints.txt or setup.py changed re-installs.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="${IMDB_LSTM_VENV:-$root/.venv}"
stamp="$venv/.installed"

find_python310() {
  local candidates=(python3.10)
  if command -v pyenv >/dev/null 2>&1; then
    candidates+=("$(pyenv root)"/versions/3.10.*/bin/python3.10)
  fi
  candidates+=("$HOME"/.pyenv/versions/3.10.*/bin/python3.10 /usr/bin/python3.10 /usr/local/bin/python3.10)
  local py
  for py in "${candidates[@]}"; do
    # A pyenv shim exists even when 3.10 is not the selected version; only running it tells.
    if "$py" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 10))' >/dev/null 2>&1; then
      echo "$py"
      return 0
    fi
  done
  return 1
}

inputs_hash="$(cat "$root/constraints.txt" "$root/setup.py" "$root/pyproject.toml" | sha256sum | cut -d' ' -f1)"
if [[ -f "$stamp" && "$(cat "$stamp")" == "$inputs_hash" ]]; then
  exit 0
fi

if ! python="$(find_python310)"; then
  cat >&2 <<'MSG'
error: Python 3.10 not found.
TFX 1.16 (the newest TFX that installs on glibc < 2.39) supports Python 3.9-3.10; this project pins 3.10.
Install it, e.g. `pyenv install 3.10.13`, or put a `python3.10` on PATH, then re-run.
MSG
  exit 1
fi

if [[ ! -x "$venv/bin/python" ]]; then
  echo "[bootstrap] creating $venv with $("$python" --version) ($python)"
  "$python" -m venv "$venv"
fi
# This machine's pip config names local indexes that may not exist; their warnings are noise.
quiet_pip() {
  "$venv/bin/python" -m pip "$@" 2>&1 | { grep -v "is ignored: it is neither a file nor a directory" || true; }
}
quiet_pip install --quiet --upgrade "pip==24.3.1"
echo "[bootstrap] installing tfx[kfp]==1.16.0 and the project from constraints.txt (a few minutes)"
start=$SECONDS
quiet_pip install --quiet --constraint "$root/constraints.txt" -e "$root[test]"
"$venv/bin/python" -m pip check >/dev/null || { "$venv/bin/python" -m pip check; exit 1; }
"$venv/bin/python" -c "import cli.main, tfx" || { echo "[bootstrap] install is broken" >&2; exit 1; }
echo "[bootstrap] installed in $((SECONDS - start)) s"
echo "$inputs_hash" > "$stamp"
