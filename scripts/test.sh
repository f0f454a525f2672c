#!/usr/bin/env bash
# The test suite: installs seqtune with its test extras, checks lint, runs every test.
# Extra arguments go to pytest (e.g. -m "not slow" for the fast ones only).
source "$(dirname "$0")/env.sh" "[test]"
ruff check src tests benchmarks
python -m pytest -q "$@"
