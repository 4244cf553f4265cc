#!/usr/bin/env bash
# Idempotent set-up for a fresh machine or an existing checkout: system packages, npm
# dependencies, the generated Prisma clients, and the migrated default database. Each step
# runs only when something is missing, so `npm test` and `npm start` can call it every time.
set -euo pipefail
cd "$(dirname "$0")/.."

apt_packages=()
command -v docker-registry >/dev/null || apt_packages+=(docker-registry)
command -v skopeo >/dev/null || apt_packages+=(skopeo)
command -v openssl >/dev/null || apt_packages+=(openssl)
if ((${#apt_packages[@]})); then
  sudo=""
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null || { echo "setup: install ${apt_packages[*]} (apt-get install ${apt_packages[*]}) and run again" >&2; exit 1; }
    sudo="sudo"
  fi
  echo "setup: installing ${apt_packages[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${apt_packages[@]}" >/dev/null
fi

# npm ci on a fresh clone, or when the lockfile changed since the last install (npm writes
# node_modules/.package-lock.json at the end of every install). better-sqlite3 compiles: ~2 min once.
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "setup: installing npm dependencies"
  npm ci --no-audit --no-fund
fi

[ -f src/generated/prisma/client.ts ] && [ -f src/generated/prisma-pg/client.ts ] || npm run --silent db:generate

npm run --silent db:deploy
