#!/usr/bin/env bash
# Compress application logs older than a day and ship them to S3.
set -euo pipefail

LOG_DIR="${LOG_DIR:-/var/log/payments}"
BUCKET="${BUCKET:-s3://example-prod-logs/payments}"
HOST="$(hostname -s)"

log() { printf '%s %s\n' "$(date -u +%FT%TZ)" "$*" >&2; }

if [[ ! -d "$LOG_DIR" ]]; then
  log "no log dir $LOG_DIR, nothing to do"
  exit 0
fi

find "$LOG_DIR" -maxdepth 1 -name '*.log.*' ! -name '*.gz' -mtime +0 -print0 |
  while IFS= read -r -d '' f; do
    gzip -9 "$f"
    log "compressed $f"
  done

for f in "$LOG_DIR"/*.gz; do
  [ -e "$f" ] || continue
  key="$BUCKET/$HOST/$(date -u +%Y/%m/%d)/$(basename "$f")"
  if aws s3 cp --only-show-errors "$f" "$key"; then
    rm -f "$f"
  else
    log "upload failed for $f, keeping it"
  fi
done

case "${1:-}" in
  --report)
    du -sh "$LOG_DIR"
    ;;
esac
