#!/bin/sh
# Entry point of the local Redis base image (scripts/docker/base-images.sh), doing what the Redis
# image on Docker Hub does for the commands docker-compose.yml gives it: options alone mean
# redis-server; protected mode off (only the compose network reaches the container, no password);
# the data directory owned by the redis user, and the server run as that user.
set -e
case "$1" in
  -*) set -- redis-server "$@" ;;
esac
if [ "$1" = redis-server ]; then
  set -- "$@" --protected-mode no
  if [ "$(id -u)" = 0 ]; then
    find . \! -user redis -exec chown redis:redis '{}' +
    exec setpriv --reuid=redis --regid=redis --init-groups "$@"
  fi
fi
exec "$@"
