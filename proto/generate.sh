#!/usr/bin/env bash
# Regenerates gen/ from lightfast/console/v1/*.proto with the buf and plugins pinned in ../tools/go.mod.
# Formats the .proto files, lints them, then generates; running it twice changes nothing.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")"
# The tools module is resolved on its own; the workspace would mix its requirements with ours.
export GOWORK=off

buf() { go tool -modfile=../tools/go.mod buf "$@"; }

buf format --write
buf lint
buf generate
