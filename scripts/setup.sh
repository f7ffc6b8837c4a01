#!/usr/bin/env bash
# Installs the Debian packages OpenJPKI needs to build, test and run.
# Does nothing when they are all present; needs root (or sudo) otherwise.
set -euo pipefail

packages=(
	build-essential cmake pkg-config clang
	libssl-dev openssl
	libsqlite3-dev sqlite3
	libmicrohttpd-dev
	libjansson-dev
	libcurl4-openssl-dev
	libargon2-dev
	libcairo2-dev fonts-ipafont-gothic poppler-utils
	chromium
	libcmocka-dev
	libpcsclite-dev pcscd vsmartcard-vpcd opensc
	curl python3
)

missing=()
for p in "${packages[@]}"; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null |
		grep -q "install ok installed"; then
		missing+=("$p")
	fi
done

[ ${#missing[@]} -eq 0 ] && exit 0

echo "setup: installing ${missing[*]}"
sudo=""
if [ "$(id -u)" -ne 0 ]; then
	sudo="sudo"
fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
