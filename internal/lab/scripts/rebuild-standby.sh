#!/bin/bash
# Written by "pitstop lab up": re-create {{.Standby}} as a streaming standby of {{.Primary}}
# (stop it, wipe its data directory, pg_basebackup -R from the primary, start it).
# The backup application needs nothing: it reconnects to its database by itself.
set -euo pipefail

BIN={{q .Bin}}
DATA={{q .Data}}
LOG={{q .Log}}
CONF={{q .Conf}}
HBA={{q .HBA}}
SOURCE={{q .Source}}
NAME={{q .Standby}}

die() { echo "rebuild-standby: $*" >&2; exit 1; }
if [ "$(id -u)" = 0 ]; then AS_PG=(runuser -u postgres --); else AS_PG=(); fi
cd "$(dirname "$DATA")"

case "$DATA" in /*/pg/*) ;; *) die "refusing to wipe '$DATA': not a lab data directory" ;; esac

if [ -f "$DATA/postmaster.pid" ] && "${AS_PG[@]}" "$BIN/pg_ctl" status -D "$DATA" >/dev/null 2>&1; then
  echo "rebuild-standby: stopping $NAME"
  "${AS_PG[@]}" "$BIN/pg_ctl" stop -D "$DATA" -m fast -w -t 30 >/dev/null
fi

echo "rebuild-standby: wiping $DATA"
rm -rf "$DATA"

echo "rebuild-standby: cloning {{.Primary}} ({{.PrimaryAddr}}) with pg_basebackup"
"${AS_PG[@]}" "$BIN/pg_basebackup" -D "$DATA" -d "$SOURCE" -R -X stream --checkpoint=fast --no-sync \
  || die "pg_basebackup from {{.PrimaryAddr}} failed; is {{.Primary}} running? (see {{.PrimaryLog}})"

cp "$CONF" "$DATA/postgresql.conf"
cp "$HBA" "$DATA/pg_hba.conf"
# A fence on the primary (ALTER SYSTEM default_transaction_read_only) must not follow into the copy.
sed -i '/^default_transaction_read_only/d' "$DATA/postgresql.auto.conf"
if [ "$(id -u)" = 0 ]; then chown postgres: "$DATA/postgresql.conf" "$DATA/pg_hba.conf" "$DATA/postgresql.auto.conf"; fi

echo "rebuild-standby: starting $NAME"
"${AS_PG[@]}" "$BIN/pg_ctl" start -D "$DATA" -l "$LOG" -w -t 60 >/dev/null \
  || { tail -n 15 "$LOG" >&2; die "$NAME did not start; see $LOG"; }

for i in $(seq 100); do
  state=$("${AS_PG[@]}" "$BIN/psql" -h {{q .Socket}} -p {{.Port}} -U postgres -d postgres -Atc \
    "SELECT pg_is_in_recovery()::text || ' ' || coalesce((SELECT status FROM pg_stat_wal_receiver), 'none')" 2>/dev/null || true)
  if [ "$state" = "true streaming" ]; then
    echo "rebuild-standby: $NAME streams from {{.Primary}} again"
    exit 0
  fi
  sleep 0.1
done
die "$NAME started but does not stream from {{.Primary}} after 10s (last: ${state:-no answer}); see $LOG"
