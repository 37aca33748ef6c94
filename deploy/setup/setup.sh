#!/usr/bin/env bash
# wiredesk one-shot setup (the `setup` service of deploy/compose.yaml), run
# in the setup image: Elasticsearch's image plus the wiredesk binary.
#
#  1. certificates: a CA and certificates for elasticsearch and kibana,
#     made once with elasticsearch-certutil (Elastic's own compose recipe);
#  2. waits for Elasticsearch;
#  3. the kibana_system password, the wiredesk_indexer and newsroom_reader
#     roles, the newsroom user;
#  4. the indexer's API key, limited to the wiredesk indices, and the
#     indexer's config file with that key (/run/wiredesk/indexer.yaml);
#  5. the snapshot repository and a nightly snapshot policy;
#  6. `wiredesk setup`: index template, ILM policy, first index. (The
#     Kibana objects are the kibana-setup service's: it waits for Kibana.)
#
# Idempotent: certificates and a working API key are kept, every request is
# a create-or-replace with the same body, and files are rewritten only when
# their content changes. ROTATE_INDEXER_KEY=1 makes a new API key and
# invalidates the old ones (deploy/README.md, "Rotating credentials").
#
# The paths and commands are variables so that deploy/setup_test.go can run
# this script against a recording stub of Elasticsearch.
set -euo pipefail

: "${ES_URL:=https://elasticsearch:9200}"
: "${CERTS_DIR:=/usr/share/elasticsearch/config/certs}"
: "${SECRETS_DIR:=/run/wiredesk}"
: "${SNAPSHOTS_DIR:=/snapshots}"
: "${CONFIG_TEMPLATE:=/etc/wiredesk/wiredesk.yaml}"
: "${CERTUTIL:=/usr/share/elasticsearch/bin/elasticsearch-certutil}"
: "${WIREDESK:=wiredesk}"
: "${NEWSROOM_USER:=newsroom}"
: "${SNAPSHOT_SCHEDULE:=0 30 1 * * ?}"
: "${SNAPSHOT_RETENTION:=30d}"
: "${ROTATE_INDEXER_KEY:=}"
: "${WAIT_SECONDS:=600}"
# uid of the wiredesk image's user (deploy/Dockerfile) and of Elasticsearch.
: "${WIREDESK_UID:=65532}"
: "${ES_UID:=1000}"

INDICES='"wiredesk-articles*"'
KEY_NAME=wiredesk-indexer

log() { printf 'setup: %s\n' "$*"; }
die() { printf 'setup: %s\n' "$*" >&2; exit 1; }

for v in ELASTIC_PASSWORD KIBANA_PASSWORD NEWSROOM_PASSWORD; do
  [ -n "${!v:-}" ] || die "$v is empty: set it in deploy/.env (./init-env.sh)"
done

# json_string quotes $1 for JSON.
json_string() {
  local s=${1//\\/\\\\}
  s=${s//\"/\\\"}
  printf '"%s"' "$s"
}

# es METHOD PATH [BODY] prints the response body; it fails on a status
# outside 2xx unless the status is listed in $ES_OK (e.g. ES_OK=404).
es() {
  local method=$1 path=$2 body=${3:-} out status
  out=$(mktemp)
  status=$(curl -sS -o "$out" -w '%{http_code}' --cacert "$CERTS_DIR/ca/ca.crt" \
    -u "elastic:$ELASTIC_PASSWORD" -H 'Content-Type: application/json' \
    -X "$method" "$ES_URL$path" ${body:+--data-binary "$body"}) || { rm -f "$out"; die "$method $path: no answer"; }
  if [[ $status != 2* && " ${ES_OK:-} " != *" $status "* ]]; then
    cat "$out" >&2; rm -f "$out"
    die "$method $path: HTTP $status"
  fi
  cat "$out"; rm -f "$out"
}

# write_if_changed FILE MODE OWNER: stdin to FILE, only when it differs.
write_if_changed() {
  local file=$1 mode=$2 owner=$3 tmp
  tmp=$(mktemp "$file.XXXXXX")
  cat >"$tmp"
  if [ -f "$file" ] && cmp -s "$tmp" "$file"; then
    rm -f "$tmp"
    return
  fi
  chmod "$mode" "$tmp"
  chown "$owner" "$tmp"
  mv -f "$tmp" "$file"
  log "wrote $file"
}

# ── 1. certificates ────────────────────────────────────────────────────
if [ ! -f "$CERTS_DIR/ca/ca.crt" ]; then
  log "creating the CA"
  "$CERTUTIL" ca --silent --pem -out "$CERTS_DIR/ca.zip"
  unzip -q -o "$CERTS_DIR/ca.zip" -d "$CERTS_DIR"
  rm -f "$CERTS_DIR/ca.zip"
fi
if [ ! -f "$CERTS_DIR/elasticsearch/elasticsearch.crt" ]; then
  log "creating the certificates of elasticsearch and kibana"
  cat >"$CERTS_DIR/instances.yml" <<'YAML'
instances:
  - name: elasticsearch
    dns: [elasticsearch, localhost]
    ip: [127.0.0.1]
  - name: kibana
    dns: [kibana, localhost]
    ip: [127.0.0.1]
YAML
  "$CERTUTIL" cert --silent --pem -out "$CERTS_DIR/certs.zip" --in "$CERTS_DIR/instances.yml" \
    --ca-cert "$CERTS_DIR/ca/ca.crt" --ca-key "$CERTS_DIR/ca/ca.key"
  unzip -q -o "$CERTS_DIR/certs.zip" -d "$CERTS_DIR"
  rm -f "$CERTS_DIR/certs.zip"
fi
# Elasticsearch and Kibana run with group 0: they read, nobody else does.
chown -R root:root "$CERTS_DIR"
find "$CERTS_DIR" -type d -exec chmod 750 {} +
find "$CERTS_DIR" -type f -exec chmod 640 {} +
# The CA certificate is public; the indexer (another uid) needs it.
write_if_changed "$SECRETS_DIR/ca.crt" 444 "$WIREDESK_UID:$WIREDESK_UID" <"$CERTS_DIR/ca/ca.crt"
# The snapshot volume belongs to Elasticsearch.
mkdir -p "$SNAPSHOTS_DIR"
chown "$ES_UID:0" "$SNAPSHOTS_DIR"
chmod 770 "$SNAPSHOTS_DIR"

# ── 2. wait for Elasticsearch ──────────────────────────────────────────
log "waiting for Elasticsearch at $ES_URL"
deadline=$((SECONDS + WAIT_SECONDS))
until curl -s --cacert "$CERTS_DIR/ca/ca.crt" "$ES_URL" | grep -q 'missing authentication credentials'; do
  [ "$SECONDS" -lt "$deadline" ] || die "Elasticsearch did not answer within ${WAIT_SECONDS}s"
  sleep 2
done

# ── 3. built-in users, roles, the newsroom user ────────────────────────
log "setting the kibana_system password"
es POST /_security/user/kibana_system/_password "{\"password\":$(json_string "$KIBANA_PASSWORD")}" >/dev/null

# What the indexer may do: cluster health; create the monthly indices,
# write, look documents up by id, refresh. Nothing outside wiredesk-articles*
# and no delete-index or settings changes (those are `wiredesk setup`'s, as
# elastic). An item the key may not write is rejected (403) and dead-lettered,
# so keep the index pattern in step with the alias in index/elastic.
INDEXER_ROLE="{\"cluster\":[\"monitor\"],\"indices\":[{\"names\":[$INDICES],\"privileges\":[\"create_index\",\"write\",\"read\",\"view_index_metadata\",\"maintenance\"]}]}"
log "creating role wiredesk_indexer"
es PUT /_security/role/wiredesk_indexer "$INDEXER_ROLE" >/dev/null

# Newsroom staff: read the articles, and read-only Kibana in every space
# (the application privilege behind Kibana's "read" base privilege).
log "creating role newsroom_reader and user $NEWSROOM_USER"
es PUT /_security/role/newsroom_reader "{\"indices\":[{\"names\":[$INDICES],\"privileges\":[\"read\",\"view_index_metadata\"]}],\"applications\":[{\"application\":\"kibana-.kibana\",\"privileges\":[\"read\"],\"resources\":[\"*\"]}]}" >/dev/null
es PUT "/_security/user/$NEWSROOM_USER" "{\"password\":$(json_string "$NEWSROOM_PASSWORD"),\"roles\":[\"newsroom_reader\"],\"full_name\":\"Newsroom\"}" >/dev/null

# ── 4. the indexer's API key and config ────────────────────────────────
key_file=$SECRETS_DIR/indexer-api-key
key=""
if [ -s "$key_file" ] && [ -z "$ROTATE_INDEXER_KEY" ]; then
  key=$(cat "$key_file")
  status=$(curl -s -o /dev/null -w '%{http_code}' --cacert "$CERTS_DIR/ca/ca.crt" \
    -H "Authorization: ApiKey $key" "$ES_URL/_security/_authenticate" || true)
  if [ "$status" != 200 ]; then
    log "the stored indexer API key does not authenticate (HTTP $status); making a new one"
    key=""
  fi
fi
if [ -z "$key" ]; then
  log "creating API key $KEY_NAME"
  resp=$(es POST /_security/api_key "{\"name\":\"$KEY_NAME\",\"role_descriptors\":{\"wiredesk_indexer\":$INDEXER_ROLE},\"metadata\":{\"managed_by\":\"wiredesk-setup\"}}")
  key=$(printf '%s' "$resp" | grep -o '"encoded" *: *"[^"]*"' | sed 's/.*"\([^"]*\)"$/\1/')
  id=$(printf '%s' "$resp" | grep -o '"id" *: *"[^"]*"' | head -n1 | sed 's/.*"\([^"]*\)"$/\1/')
  [ -n "$key" ] && [ -n "$id" ] || die "no API key in the answer: $resp"
  printf '%s' "$key" | write_if_changed "$key_file" 400 root:root
  # Older keys of the same name stop working now. A running indexer gets
  # 401s until it is recreated and holds its messages meanwhile: a
  # whole-request failure is "unavailable", never a dead letter.
  keys=$(es GET "/_security/api_key?name=$KEY_NAME&active_only=true")
  old=$(printf '%s' "$keys" | grep -o '"id" *: *"[^"]*"' | sed 's/.*"\([^"]*\)"$/\1/' | grep -v -x -F "$id" || true)
  if [ -n "$old" ]; then
    ids=$(printf '%s\n' "$old" | sed 's/.*/"&"/' | paste -sd, -)
    log "invalidating older $KEY_NAME keys"
    es DELETE /_security/api_key "{\"ids\":[$ids]}" >/dev/null
  fi
fi
# The indexer's config: the image's wiredesk.yaml with the key filled in.
grep -q '^ *api_key:' "$CONFIG_TEMPLATE" || die "$CONFIG_TEMPLATE has no api_key line"
sed "s|^\( *\)api_key:.*|\1api_key: \"$key\"|" "$CONFIG_TEMPLATE" |
  write_if_changed "$SECRETS_DIR/indexer.yaml" 400 "$WIREDESK_UID:$WIREDESK_UID"

# ── 5. snapshots ───────────────────────────────────────────────────────
log "registering snapshot repository wiredesk and policy wiredesk-nightly"
es PUT /_snapshot/wiredesk '{"type":"fs","settings":{"location":"/usr/share/elasticsearch/snapshots"}}' >/dev/null
es PUT /_slm/policy/wiredesk-nightly "{\"schedule\":$(json_string "$SNAPSHOT_SCHEDULE"),\"name\":\"<wiredesk-{now/d}>\",\"repository\":\"wiredesk\",\"config\":{\"indices\":[$INDICES],\"include_global_state\":false,\"feature_states\":[\"kibana\",\"security\"]},\"retention\":{\"expire_after\":$(json_string "$SNAPSHOT_RETENTION"),\"min_count\":7,\"max_count\":90}}" >/dev/null

# ── 6. index template, ILM policy, first index ─────────────────────────
log "running wiredesk setup"
"$WIREDESK" setup -config "$CONFIG_TEMPLATE"
log "done"
