#!/usr/bin/env bash
# The main job on the embedded default store (a SpatiaLite file under FLOODWATCH_DATA_DIR,
# default ~/.local/share/floodwatch): set up, migrate, load the Huế region, replay the real
# November 2025 flood through the model cycle and the alerts up to its peak, and serve the map
# on http://127.0.0.1:8000 (as of the newest model run). Idempotent: a second run reuses what the
# first stored. REPLAY_UNTIL (ISO 8601) moves the end of the replay; PORT the port.
source "$(dirname "$0")/setup.sh"
setup_venv
cd "$ROOT"
until_time="${REPLAY_UNTIL:-2025-11-17T15:00+07:00}"   # Kim Long's peak (3.01 m)
floodwatch db upgrade
floodwatch region load hue
log "replaying hue-2025-11 through the model cycle and the alerts until $until_time (a few minutes the first time)"
floodwatch replay run hue-2025-11 --until "$until_time"
log "serving the map as of the newest model run; live feeds: see README (Configuration, Feeds)"
export FLOODWATCH_SERVE_AS_OF="${FLOODWATCH_SERVE_AS_OF:-newest_run}"
exec floodwatch serve --host 127.0.0.1 --port "${PORT:-8000}"
