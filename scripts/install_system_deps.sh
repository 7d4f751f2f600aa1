#!/usr/bin/env bash
# System packages piano-ai needs beside its Python dependencies: ffmpeg (m4a/aac decoding, codec augmentation),
# ApacheBench (make bench-service), FluidSynth and four SoundFont banks with pianos (rendering training and test audio), Chromium + ChromeDriver (browser tests).
# Installs what is missing with apt-get when run as root; otherwise says what to install and fails.
set -euo pipefail

packages=(ffmpeg apache2-utils fluidsynth fluid-soundfont-gm timgm6mb-soundfont musescore-general-soundfont-lossless csound-soundfont
          chromium chromium-driver)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "system packages: all present"
  exit 0
fi
if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null; then
  echo "missing system packages: ${missing[*]}" >&2
  echo "install them with: sudo apt-get install -y ${missing[*]}" >&2
  exit 1
fi
echo "installing system packages: ${missing[*]}"
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
