#!/usr/bin/env bash
# Run HERE (the CPU machine) before a GPU device run: gathers what the device's CUDA image lacks, into two
# git-ignored folders that the device run carries: .whl/ (Python 3.12 x86-64 wheels of the pack's
# dependencies missing there, about 2 MB) and .gl/ (the GL/EGL loader packages for headless rendering).
# usd-core and imageio-ffmpeg (about 100 MB together) stay behind: no GPU check imports them.
set -euo pipefail
cd "$(dirname "$0")/.."
PIP="${PIP:-.venv/bin/pip}"
mkdir -p .whl .gl /tmp/amd64/partial
"$PIP" download -q --only-binary=:all: --no-deps --python-version 3.12 --platform manylinux2014_x86_64 \
  --platform manylinux_2_17_x86_64 --platform manylinux_2_28_x86_64 -d .whl \
  trimesh pygltflib dataclasses-json marshmallow deprecated pykdtree moderngl glcontext fast-simplification
apt_options=(-oAPT::Architecture=amd64 -oAPT::Architectures=amd64 -oDir::State::Lists=/tmp/amd64)
apt-get "${apt_options[@]}" update -qq
(cd .gl && apt-get "${apt_options[@]}" download -qq libvulkan1 libegl1 libglvnd0 libopengl0 libgl1 libglx0 libgles2)
du -sh .whl .gl
