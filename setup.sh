#!/usr/bin/env bash
# Set up a fresh Debian/Ubuntu machine: system packages, then a virtual environment in .venv.
set -euo pipefail
cd "$(dirname "$0")"

packages=(portaudio19-dev libsndfile1 ffmpeg sox espeak-ng chromium fonts-nanum)
missing=()
for package in "${packages[@]}"; do
    dpkg -s "$package" >/dev/null 2>&1 || missing+=("$package")
done
if ((${#missing[@]})); then
    sudo=""; [ "$(id -u)" -ne 0 ] && sudo="sudo"
    $sudo apt-get update -q
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q "${missing[@]}"
fi

[ -x .venv/bin/python ] || python3.11 -m venv .venv 2>/dev/null || python3 -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q torch==2.13.0   # the CPU build; see README
.venv/bin/python -m pip install -q -e '.[test]'
# facebook's denoiser, as a test and benchmark reference only: its declared dependencies
# (hydra-core<1.0) conflict with NeMo, and its model code needs none of them.
.venv/bin/python -m pip install -q --no-deps --target .venv/reference denoiser==0.1.5
