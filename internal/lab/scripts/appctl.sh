#!/bin/bash
# Written by "pitstop lab up": start, stop and restart the lab's application instances.
#   appctl restart HOST VERSION   stop HOST's instance, wait until its port is free, start VERSION, wait for /health
#   (each wait looks every 10 ms, so the time a restart takes is the application's, not the script's)
#   appctl start HOST VERSION
#   appctl stop HOST
#   appctl status HOST
# HOST is one of: {{.Hosts}}. VERSION is v1 or v2.
set -u

PITSTOP={{q .Pitstop}}
RUN={{q .Run}}
LOGS={{q .Logs}}

die() { echo "appctl: $*" >&2; exit 1; }

usage() {
  echo "usage: appctl restart|start HOST VERSION | stop|status HOST   (HOST: {{.Hosts}})" >&2
  exit 2
}

host_conf() {
  case "$1" in
{{- range .Apps}}
  {{.Host}}) ADDR={{.IP}}; PORT={{.Port}}; DB={{q .DB}} ;;
{{- end}}
  *) echo "appctl: unknown host '$1' (known: {{.Hosts}})" >&2; exit 2 ;;
  esac
  HOST=$1
  PIDFILE="$RUN/$HOST.pid"
  LOG="$LOGS/$HOST.log"
}

# running PID: true while PID is a live process (a zombie counts as gone).
running() {
  local s
  s=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
  s=${s##*) }
  [ "${s:0:1}" != Z ]
}

port_open() { (exec 3<>"/dev/tcp/$ADDR/$PORT") 2>/dev/null; }

{{- if .Variant}}
# health prints "STATUS VERSION" from GET /status (this variant says its version only in the JSON
# body, as "release"), or fails when nothing answers.
health() {
  local status="" version="" line re='"release": *"([^"]*)"'
  { exec 3<>"/dev/tcp/$ADDR/$PORT"; } 2>/dev/null || return 1
  printf 'GET /status HTTP/1.0\r\nHost: %s\r\n\r\n' "$ADDR" >&3
  if ! read -r -t 3 _ status _ <&3; then exec 3<&-; return 1; fi
  while IFS= read -r -t 3 line <&3; do
    [[ $line =~ $re ]] && version=${BASH_REMATCH[1]}
  done
  exec 3<&-
  echo "$status $version"
}
{{- else}}
# health prints "STATUS VERSION" from GET /health, or fails when nothing answers.
health() {
  local status="" version="" line
  { exec 3<>"/dev/tcp/$ADDR/$PORT"; } 2>/dev/null || return 1
  printf 'GET /health HTTP/1.0\r\nHost: %s\r\n\r\n' "$ADDR" >&3
  if ! read -r -t 3 _ status _ <&3; then exec 3<&-; return 1; fi
  while IFS= read -r -t 3 line <&3; do
    line=${line%$'\r'}
    [ -z "$line" ] && break
    case "${line,,}" in x-app-version:*) version=${line#*: } ;; esac
  done
  exec 3<&-
  echo "$status $version"
}
{{- end}}

stop() {
  local pid="" i
  [ -f "$PIDFILE" ] && pid=$(head -n1 "$PIDFILE")
  if [ -n "$pid" ] && running "$pid" && tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q -- "--instance $HOST"; then
    echo "appctl: stopping $HOST (pid $pid)"
    kill -TERM "$pid" 2>/dev/null
    for i in $(seq 1000); do running "$pid" || break; sleep 0.01; done
    if running "$pid"; then
      echo "appctl: $HOST (pid $pid) still runs 10s after SIGTERM; killing it" >&2
      kill -KILL "$pid" 2>/dev/null
      sleep 0.2
    fi
  fi
  for i in $(seq 1000); do
    port_open || return 0
    sleep 0.01
  done
  die "$HOST: $ADDR:$PORT is still in use 10s after stopping (pid file $PIDFILE: ${pid:-none}); find what holds it with: ss -ltnp 'sport = :$PORT'"
}

start() {
  local version=$1 child h="" i
  case "$version" in v1|v2) ;; *) die "unknown version '$version': the lab's application has v1 and v2" ;; esac
  port_open && die "$HOST: $ADDR:$PORT is already in use; stop it first: appctl stop $HOST"
  echo "appctl: starting $HOST $version on $ADDR:$PORT"
  setsid "$PITSTOP" lab app --version "$version" --listen "$ADDR:$PORT" --db "$DB" \
    --instance "$HOST" --pid-file "$PIDFILE"{{if .Variant}} --variant {{q .Variant}}{{end}} >>"$LOG" 2>&1 </dev/null &
  child=$!
  for i in $(seq 1500); do
    if h=$(health) && [ "$h" = "200 $version" ]; then
      echo "appctl: $HOST serves $version on http://$ADDR:$PORT (pid $(head -n1 "$PIDFILE" 2>/dev/null))"
      return 0
    fi
    if ! running "$child"; then
      echo "appctl: $HOST: $version exited while starting; last lines of $LOG:" >&2
      tail -n 10 "$LOG" >&2
      exit 1
    fi
    sleep 0.01
  done
  echo "appctl: $HOST: $version gave no healthy answer on http://$ADDR:$PORT/health within 15s (last: ${h:-no answer}); last lines of $LOG:" >&2
  tail -n 10 "$LOG" >&2
  exit 1
}

[ $# -ge 2 ] || usage
cmd=$1
host_conf "$2"
case "$cmd" in
restart) [ $# -eq 3 ] || usage; stop; start "$3" ;;
start) [ $# -eq 3 ] || usage; start "$3" ;;
stop) [ $# -eq 2 ] || usage; stop; echo "appctl: $HOST stopped" ;;
status)
  if h=$(health); then echo "$HOST: HTTP ${h% *}, version ${h#* } on http://$ADDR:$PORT"; else echo "$HOST: not answering on $ADDR:$PORT"; exit 1; fi ;;
*) usage ;;
esac
