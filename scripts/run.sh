#!/usr/bin/env bash
# The main job on the embedded default store (a SpatiaLite file under FLOODWATCH_DATA_DIR,
# default ~/.local/share/floodwatch): set up, migrate, load the Huế region and show it.
source "$(dirname "$0")/setup.sh"
setup_venv
cd "$ROOT"
floodwatch db upgrade
floodwatch region load hue
floodwatch region show hue --areas
