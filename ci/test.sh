#!/usr/bin/env bash
# Install nbad with its test extra into a FRESH virtual environment and run the
# README's test command there. Usage: ci/test.sh [REPO_DIR]   (default: this checkout)
# Env: PYTHON (default python3), CI_KEEP_VENV=1 keeps the temp dir for inspection.
set -euo pipefail

repo="$(cd "${1:-$(dirname "$0")/..}" && pwd)"
python="${PYTHON:-python3}"
work="$(mktemp -d "${TMPDIR:-/tmp}/nbad-ci.XXXXXX")"
cleanup() { if [[ "${CI_KEEP_VENV:-0}" != 1 ]]; then rm -rf "$work"; else echo "kept $work"; fi; }
trap cleanup EXIT

echo "== fresh virtual environment in $work/.venv ($("$python" --version))"
"$python" -m venv "$work/.venv"
# Build from a copy of the checkout, so nothing (build/, *.egg-info) is written into it.
mkdir "$work/src"
tar -C "$repo" --exclude=.git --exclude=.venv --exclude='*.egg-info' --exclude=build \
    --exclude=__pycache__ --exclude=.pytest_cache --exclude=.hypothesis -cf - . | tar -C "$work/src" -xf -
cd "$work/src"

echo "== install: pip install \".[test]\""
"$work/.venv/bin/pip" install --no-cache-dir ".[test]"

echo "== installed versions"
"$work/.venv/bin/python" -m pip list --format=freeze
"$work/.venv/bin/nbad" info || echo "(nbad info failed)"

echo "== tests: python -m pytest -q -n auto --dist loadfile tests"
# The README's command, run from the (copied) checkout root as the README does.
set +e
"$work/.venv/bin/python" -m pytest -q -n auto --dist loadfile tests
status=$?
set -e
if [[ $status -eq 5 ]]; then
    echo "ci: pytest collected no tests (exit 5): failing" >&2
    exit 1
fi
exit $status
