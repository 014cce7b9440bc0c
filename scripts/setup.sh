#!/usr/bin/env bash
# Installs every Debian package partscreen needs (listed in scripts/packages.txt).
# Idempotent and quick: when everything is already installed it does not touch apt at all.
# Runs apt-get as root, or through sudo when not root.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

mapfile -t wanted < <(sed -e 's/#.*//' -e 's/[[:space:]]//g' -e '/^$/d' "$here/packages.txt")

missing=()
for pkg in "${wanted[@]}"; do
  status="$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)"
  [[ "$status" == "install ok installed" ]] || missing+=("$pkg")
done

# The review page's JavaScript (three.js; playwright-core for its browser test) from npm, pinned
# by service/web/package-lock.json. Skipped when node_modules already matches the lock file.
web_deps() {
  local web="$here/../service/web"
  if ! command -v npm >/dev/null 2>&1; then
    echo "setup: npm not found (Debian: apt-get install npm): the review page and its test need it" >&2
    return 1
  fi
  if ! cmp -s "$web/package-lock.json" "$web/node_modules/.partscreen-lock" 2>/dev/null; then
    (cd "$web" && npm ci --no-audit --no-fund --loglevel=error && cp package-lock.json node_modules/.partscreen-lock)
  fi
}

if [[ ${#missing[@]} -eq 0 ]]; then
  echo "setup: all ${#wanted[@]} packages installed"
  web_deps
  exit 0
fi

if [[ $(id -u) -eq 0 ]]; then
  sudo=()
elif command -v sudo >/dev/null 2>&1; then
  sudo=(sudo)
else
  echo "setup: missing packages: ${missing[*]}" >&2
  echo "setup: run this script as root (or install sudo) to install them" >&2
  exit 2
fi

export DEBIAN_FRONTEND=noninteractive
echo "setup: installing ${missing[*]}"
# Refresh the package lists only when apt does not know one of the packages (fresh machine).
need_update=0
for pkg in "${missing[@]}"; do
  if ! apt-cache show "$pkg" >/dev/null 2>&1; then need_update=1; break; fi
done
if [[ $need_update -eq 1 ]]; then
  "${sudo[@]}" apt-get update -q
fi
"${sudo[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}"
# Debian's nodejs comes without npm (NodeSource's includes it).
command -v npm >/dev/null 2>&1 || "${sudo[@]}" apt-get install -y -q --no-install-recommends npm
web_deps
