#!/usr/bin/env bash
# Start JupyterLab on the workbench notebook (after ./setup.sh); extra arguments go to `jupyter lab`.
# As root, JupyterLab refuses to start without --allow-root, so it is added only then.
set -euo pipefail
cd "$(dirname "$0")"
as_root=()
[ "$(id -u)" -eq 0 ] && as_root=(--allow-root)
exec .venv/bin/jupyter lab notebooks/workbench.ipynb "${as_root[@]}" "$@"
