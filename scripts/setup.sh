#!/usr/bin/env bash
# Installs the system libraries CryptoScalper builds against, only when missing. Idempotent.
# Runs as root directly, otherwise through sudo.
set -euo pipefail

# chromium: the dashboard's browser test (headless); python3-prometheus-client: the reference
# parser of Prometheus' text format the /metrics test checks against (Debian's python3, not a
# runtime dependency of scalper); postgresql: the server the job-queue tests start on 127.0.0.1 as an
# unprivileged user (scalper itself needs only a server to point --runs-db at).
packages=(libxgboost-dev libopenblas-dev libsqlite3-dev libcurl4-openssl-dev zlib1g-dev pkgconf chromium python3-prometheus-client postgresql)

if ! command -v swift >/dev/null 2>&1; then
    echo "setup: no 'swift' on PATH. Install the Swift toolchain 6.2 or newer (swift.org) first; it cannot be fetched here." >&2
    exit 1
fi

# Package.swift needs swift-tools-version 6.2 (treatAllWarnings, MemberImportVisibility).
swift_version=$(swift --version 2>/dev/null | sed -n 's/.*Swift version \([0-9][0-9]*\)\.\([0-9][0-9]*\).*/\1.\2/p' | head -1)
if [ -z "$swift_version" ]; then
    echo "setup: cannot read the Swift version from 'swift --version'; CryptoScalper needs Swift 6.2 or newer." >&2
    exit 1
fi
major=${swift_version%%.*}
minor=${swift_version#*.}
if [ "$major" -lt 6 ] || { [ "$major" -eq 6 ] && [ "$minor" -lt 2 ]; }; then
    echo "setup: Swift $swift_version found at $(command -v swift); CryptoScalper needs Swift 6.2 or newer (Package.swift: swift-tools-version 6.2)." >&2
    exit 1
fi

missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if [ ${#missing[@]} -eq 0 ]; then
    echo "setup: system packages present (${packages[*]})"
    exit 0
fi

if [ "$(id -u)" -eq 0 ]; then sudo=(); elif command -v sudo >/dev/null 2>&1; then sudo=(sudo); else
    echo "setup: missing ${missing[*]} and not root (no sudo either): install them with apt-get" >&2
    exit 1
fi

echo "setup: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -qq
"${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
