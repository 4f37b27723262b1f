#!/usr/bin/env bash
# make demo: build (done by make), start the system from the build's staged
# install root and show what runs. Later issues extend this to pull and run a
# container from the locally built image.
set -euo pipefail
build=${1:-build}
ct=$(realpath "$build/stage/bin/container")

step() { printf '\n\033[1m$ container %s\033[0m\n' "$*"; }

step system start
"$ct" system start
step system status
"$ct" system status
step system property list
"$ct" system property list
step plugin list
"$ct" plugin list

cat <<MSG

The API server keeps running. Try:
  $ct --help
  $ct system logs
  $ct system stop
MSG
