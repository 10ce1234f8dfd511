#!/usr/bin/env bash
# The report tests open reports in a real headless browser: Debian's chromium and its matching
# chromedriver. Installs both with apt when they are missing (as root, as CI runs).
set -euo pipefail

if [[ -x /usr/bin/chromium && -x /usr/bin/chromedriver ]]; then
  exit 0
fi
if [[ "$(id -u)" -ne 0 ]] || ! command -v apt-get >/dev/null 2>&1; then
  echo "error: the report tests need Debian's chromium and chromium-driver:" >&2
  echo "  sudo apt-get install chromium chromium-driver" >&2
  exit 1
fi
echo "[browser] installing chromium and chromium-driver with apt-get (a minute or two)"
start=$SECONDS
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq chromium chromium-driver >/dev/null
echo "[browser] $(/usr/bin/chromium --version) installed in $((SECONDS - start)) s"
