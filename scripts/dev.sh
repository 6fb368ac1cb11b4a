#!/usr/bin/env bash
# Started by `make dev`: the trip ingest server and (without an analytics endpoint) the analytics sandbox in
# the background, the Dagster UI in the foreground. All stop together on Ctrl-C.
set -euo pipefail
: "${BIN:=.venv/bin}" "${DAGSTER_PORT:=3000}" "${INGEST_PORT:=8700}" "${ANALYTICS_PORT:=8701}"

# The instance config lives in config/, not the repository root: a dagster.yaml in the working directory
# is ignored (with a warning) whenever DAGSTER_HOME is set, which it always is here.
mkdir -p "$DAGSTER_HOME" "$FLEET_DATA_DIR"
cp config/dagster.yaml "$DAGSTER_HOME/dagster.yaml"

# A demo device key on first start, so an edge collector (or `edge-collector replay`) can upload at once.
keys_file="$FLEET_DATA_DIR/ingest_keys.json"
if [ ! -f "$keys_file" ]; then
  mkdir -p "$FLEET_DATA_DIR"
  "$BIN/fleet-ingest-server" --data-dir "$FLEET_DATA_DIR" --keys-file "$keys_file" \
      add-key --device demo-van --vin "${DEMO_VIN:-1FTFW1E50PFA00001}" > "$FLEET_DATA_DIR/demo_device_key.txt"
  echo "Created a demo device key for VIN ${DEMO_VIN:-1FTFW1E50PFA00001} in $FLEET_DATA_DIR/demo_device_key.txt"
fi

"$BIN/fleet-ingest-server" --keys-file "$keys_file" --host 127.0.0.1 --port "$INGEST_PORT" --data-dir "$FLEET_DATA_DIR" &
ingest_pid=$!
analytics_pid=""
trap 'kill "$ingest_pid" $analytics_pid 2>/dev/null || true' EXIT

# No analytics endpoint: runs upload to the embedded sandbox, whose data lives in this SQLite file; serving the
# same file shows what was uploaded (and accepts uploads from the analytics CLI).
if [ -z "${GRAPH_SERVICE_URL:-}${GRAPH_ENDPOINT:-}" ]; then
  "$BIN/python" -m fleet_assets.analytics.sandbox.cli --host 127.0.0.1 --port "$ANALYTICS_PORT" \
      --store "$FLEET_DATA_DIR/analytics_sandbox.sqlite" &
  analytics_pid=$!
  echo "Analytics sandbox: http://127.0.0.1:$ANALYTICS_PORT/graphql  (uploaded data: /stats, /records/gps)"
fi

echo "Trip ingest API:  http://127.0.0.1:$INGEST_PORT  (OpenAPI at /openapi.json)"
echo "Dagster UI:       http://127.0.0.1:$DAGSTER_PORT"
echo "Data directory:   $FLEET_DATA_DIR   Dagster home: $DAGSTER_HOME"
"$BIN/dagster" dev -w workspace.yaml -h 127.0.0.1 -p "$DAGSTER_PORT"
