#!/bin/sh
# Create empty top-level packages (as laid out in pyproject's packages.find) so that
# `pip install -e ".[extra]"` can install every dependency before the sources are copied in.
set -eu
for pkg in shared/piano_ai services/api/piano_api services/worker/piano_worker services/dashboard/piano_dashboard; do
    mkdir -p "$pkg"
    touch "$pkg/__init__.py"
done
