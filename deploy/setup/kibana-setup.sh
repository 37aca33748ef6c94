#!/usr/bin/env bash
# wiredesk Kibana objects (the `kibana-setup` service of deploy/compose.yaml):
# imports the data view, saved search and dashboard of kibana.ndjson with
# fixed ids and overwrite, so a second run changes nothing.
set -euo pipefail
: "${KIBANA_URL:=http://kibana:5601}"
: "${OBJECTS:=/usr/share/wiredesk/kibana.ndjson}"
[ -n "${ELASTIC_PASSWORD:-}" ] || { echo "kibana-setup: ELASTIC_PASSWORD is empty" >&2; exit 1; }

out=$(curl -sS -u "elastic:$ELASTIC_PASSWORD" -H 'kbn-xsrf: wiredesk' \
  -F "file=@$OBJECTS" "$KIBANA_URL/api/saved_objects/_import?overwrite=true")
case $out in
  *'"success":true'*) echo "kibana-setup: imported $(grep -c . "$OBJECTS") objects" ;;
  *) echo "kibana-setup: import failed: $out" >&2; exit 1 ;;
esac
