# Shared helpers for scripts/run and scripts/test. Source it; it sets ROOT and a few functions.
# Fresh Debian/Ubuntu with Rust installed is the baseline: everything else is installed here.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
export ROOT

# Each line carries the time of day, so a CI log shows where its minutes went.
log() { printf '\033[1m==> %s %s\033[0m\n' "$(date +%T)" "$*" >&2; }

# A one-shot CI build gains nothing from incremental artifacts (1.7 GB of a run's target/).
if [ -n "${CI:-}" ]; then export CARGO_INCREMENTAL=0; fi

# log_disk: free space where target/ lives, so a run that dies for want of disk says so.
log_disk() { log "disk: $(df -h --output=avail,size "$ROOT" | tail -1 | awk '{print $1" free of "$2}') ($(du -sh "$ROOT/target" 2>/dev/null | cut -f1 || echo 0) in target/)"; }

# ensure_apt PKG...: installs the Debian packages that are missing. As root it runs apt-get;
# otherwise it prints the exact command to run and stops.
ensure_apt() {
  local missing=()
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  if [ "$(id -u)" -eq 0 ]; then
    log "installing ${missing[*]}"
    # A fresh machine has no package lists yet; update once per run.
    if [ -z "${_APT_UPDATED:-}" ]; then apt-get update -qq; _APT_UPDATED=1; fi
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  else
    echo "Missing system packages. Run:" >&2
    echo "  sudo apt-get install ${missing[*]}" >&2
    exit 1
  fi
}

# Build dependencies of the workspace (cmake builds the bundled libopus; cpal's ALSA
# fallback links libasound; the shell's wry/tao link WebKitGTK 4.1 and GTK 3).
BUILD_PKGS=(build-essential pkg-config cmake git libasound2-dev libwebkit2gtk-4.1-dev libgtk-3-dev)

# ensure_pyenv: a private Python venv in target/pyenv with the quality tools (PESQ).
# Prints nothing when it is already complete.
ensure_pyenv() {
  ensure_apt python3 python3-venv python3-dev
  local venv="$ROOT/target/pyenv"
  if [ ! -x "$venv/bin/python" ]; then
    log "creating Python venv in $venv"
    python3 -m venv "$venv"
  fi
  if ! "$venv/bin/python" -c 'import pesq, numpy, soundfile, scipy' 2>/dev/null; then
    log "installing PyPI packages: pesq numpy soundfile scipy"
    "$venv/bin/pip" install -q --disable-pip-version-check numpy scipy soundfile
    "$venv/bin/pip" install -q --disable-pip-version-check pesq
  fi
  # audioop (the G.711 reference) left the standard library in Python 3.13.
  if ! "$venv/bin/python" -W ignore -c 'import audioop' 2>/dev/null; then
    "$venv/bin/pip" install -q --disable-pip-version-check audioop-lts
  fi
  export MYAPPS_PYTHON="$venv/bin/python"
}

# ensure_cargo_tool BIN CRATE: installs a cargo tool from crates.io when it is missing.
ensure_cargo_tool() {
  command -v "$1" >/dev/null 2>&1 && return 0
  log "installing $2 from crates.io"
  cargo install --locked -q "$2"
}

# ensure_chromium_driver: node and npm playwright-core in tests/tools/chromium (drives
# Debian's Chromium; no browser download), and PeerJS in tests/tools/peerjs.
ensure_chromium_driver() {
  ensure_apt chromium
  command -v node >/dev/null || ensure_apt nodejs npm
  local dir=$ROOT/tests/tools/chromium
  if [ ! -d "$dir/node_modules/playwright-core" ]; then
    log "npm install (playwright-core, no browser download)"
    (cd "$dir" && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm install --no-audit --no-fund --silent)
  fi
  # PeerJS (client) and its signalling server `peer`, for crates/myapps/tests/webrtc_peerjs.rs.
  local peerjs=$ROOT/tests/tools/peerjs
  if [ ! -d "$peerjs/node_modules/peerjs" ] || [ ! -d "$peerjs/node_modules/peer" ]; then
    log "npm install (peerjs, peer)"
    (cd "$peerjs" && npm install --no-audit --no-fund --silent)
  fi
}
