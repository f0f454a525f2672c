#!/usr/bin/env bash
# The airline study end to end: install, search (TPE), show, export, and refit the best.
# Run it again to continue a stopped study (it resumes instead of starting over).
source "$(dirname "$0")/env.sh"
study=results/airline
if [ -f "$study/spec.yaml" ]; then
  seqtune resume "$study"
else
  seqtune launch examples/airline.yaml
fi
seqtune status "$study"
seqtune export "$study"
seqtune train "$study/best.yaml"
