#!/usr/bin/env bash
# Starts a Docker engine when none answers: Debian's dockerd in the background (overlay2), its log in
# /tmp/dockerd.log (DOCKERD_LOG), its process id in /var/run/docker.pid (DOCKERD_PIDFILE), listening
# where DOCKER_HOST points (a unix socket) or on the default socket. Waits until it answers, 60 s at
# most. Needs root and Debian's docker.io.
set -euo pipefail
docker_cli=${DOCKER:-docker}
if "$docker_cli" info >/dev/null 2>&1; then
  echo "dockerd: a Docker engine answers already"
  exit 0
fi
host=${DOCKER_HOST:-unix:///var/run/docker.sock}
case "$host" in
  unix://*) ;;
  *)
    echo "dockerd: DOCKER_HOST=$host does not answer, and only a unix socket can be started here" >&2
    exit 1
    ;;
esac
log=${DOCKERD_LOG:-/tmp/dockerd.log}
nohup dockerd --host "$host" --pidfile "${DOCKERD_PIDFILE:-/var/run/docker.pid}" --storage-driver overlay2 >"$log" 2>&1 &
for _ in $(seq 1 60); do
  if "$docker_cli" info >/dev/null 2>&1; then
    echo "dockerd: started (log: $log)"
    exit 0
  fi
  sleep 1
done
echo "dockerd: no answer after 60 s; its log ($log) ends:" >&2
tail -n 20 "$log" >&2
exit 1
