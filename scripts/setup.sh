#!/usr/bin/env bash
# Set up a fresh Debian 12 machine for berth (as root, with node >= 20 and npm): the apt packages
# the build and tests need, `npm ci`, the build (native helper, TypeScript, bundles) and the probe
# fixture. Idempotent: steps already done are skipped. Used by .ci/run and scripts/demo.sh.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
cd "$(dirname "$(readlink -f "$0")")/.."

log() { printf '== %s\n' "$*" >&2; }
die() { printf 'setup: error: %s\n' "$*" >&2; exit 1; }

[ "$(id -u)" = 0 ] || die "must run as root (the tests create namespaces, mounts and cgroups)"
command -v node >/dev/null && command -v npm >/dev/null || die "node >= 20 and npm are required"
node -e 'process.exit(Number(process.versions.node.split(".")[0]) >= 20 ? 0 : 1)' ||
  die "node >= 20 is required, found $(node --version)"

# --- apt packages -----------------------------------------------------------------------------
# build-essential, pkg-config: the native helper, the probe (static glibc) and better-sqlite3.
# curl: waiting for the registry. The rest: fixtures, reference runtimes, registry tools, the
# Engine API's clients (docker-compose), git (ADD of a git URL), openssl (TLS certificates in the
# tests), and what rootless needs (user-mode networking, newuidmap, fuse-overlayfs).
PACKAGES=(
  build-essential pkg-config curl ca-certificates
  busybox-static libseccomp-dev libcap-dev tini
  docker-registry skopeo runc crun containerd docker.io apache2-utils
  jq file python3 iproute2 kmod e2fsprogs nftables
  qemu-system-x86 debootstrap cpio
  docker-compose git openssl passt slirp4netns uidmap fuse-overlayfs
)
# (no `cmd | grep -q` here: with pipefail, grep's early exit can SIGPIPE cmd and fail the test)
installed() { [ "$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null || true)" = "install ok installed" ]; }
candidate() { [[ "$(apt-cache policy "$1" 2>/dev/null || true)" =~ Candidate:\ [^\(] ]]; }
missing=()
for p in "${PACKAGES[@]}"; do installed "$p" || missing+=("$p"); done
if [ "${#missing[@]}" -gt 0 ]; then
  log "apt: installing ${missing[*]}"
  apt-get update -qq
  available=()
  for p in "${missing[@]}"; do
    if candidate "$p"; then available+=("$p")
    else printf 'ci: warning: apt has no package %s; tests that need it will skip\n' "$p" >&2; fi
  done
  if [ "${#available[@]}" -gt 0 ]; then
    apt-get install -y -qq --no-install-recommends "${available[@]}" >/dev/null
  fi
else
  log "apt: all ${#PACKAGES[@]} packages present"
fi

# --- npm dependencies ----------------------------------------------------------------------------
# npm ci wipes node_modules and rebuilds better-sqlite3 from source (~70 s): only when the
# lockfile, package.json or node changed since the last successful install.
stamp=node_modules/.berth-ci-stamp
want="$(cat package.json package-lock.json | sha256sum | cut -d' ' -f1) $(node --version) $(uname -m)"
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
  log "npm: node_modules up to date"
else
  log "npm ci"
  npm ci --no-audit --no-fund --loglevel=error
  printf '%s\n' "$want" > "$stamp"
fi

# --- build -------------------------------------------------------------------------------------
log "build"
npm run --silent build
make -s -C test/fixtures

