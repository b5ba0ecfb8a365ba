# One image for every service; the command picks it, e.g.
#   docker run IMAGE services/wechat-gateway/dist/main.js
# Services: wechat-gateway, im-callback, dashboard, im-worker, wechat-pusher (services/<name>/dist/main.js),
# or cli/dist/main.js for all of them in one process (and sandbox mode), or
# cli/dist/sandbox.js for the sandbox alone (page and simulators) beside services run apart.
# Node 24, a maintained LTS; the code also runs on Node 20 (what CI tests).
ARG NODE_IMAGE=node:24-bookworm-slim

# Build: every workspace, with the dev dependencies TypeScript needs.
FROM ${NODE_IMAGE} AS build
WORKDIR /app
COPY package.json package-lock.json tsconfig.base.json tsconfig.build.json ./
COPY packages packages
COPY services services
COPY cli cli
COPY testkit testkit
COPY bench bench
# Behind a proxy with a certificate authority of its own, npm needs it: BuildKit's
# `--secret id=ca,src="$NODE_EXTRA_CA_CERTS"` mounts it for the npm steps only, in no layer.
RUN --mount=type=secret,id=ca \
    if [ -f /run/secrets/ca ]; then export NODE_EXTRA_CA_CERTS=/run/secrets/ca; fi \
 && npm ci --no-audit --no-fund --no-update-notifier && npm run build

# Production dependencies of the services and the launcher only: no test tooling (testkit), no
# benchmarks, no TypeScript toolchain (sandbox mode's simulators stay: npm start needs them).
# --omit=optional too: TypeScript is an optional peer of valibot (bull-board's), which npm installs
# whenever the lockfile holds it, and the root's dev dependencies put it there. The only optional
# dependency left out with it is msgpackr-extract, a native speed-up msgpackr does without.
FROM ${NODE_IMAGE} AS deps
WORKDIR /app
COPY package.json package-lock.json ./
COPY --from=build /app/packages packages
COPY --from=build /app/services services
COPY --from=build /app/cli cli
RUN --mount=type=secret,id=ca \
    if [ -f /run/secrets/ca ]; then export NODE_EXTRA_CA_CERTS=/run/secrets/ca; fi \
 && rm -rf packages/*/node_modules services/*/node_modules cli/node_modules \
 && npm ci --omit=dev --omit=optional --no-audit --no-fund --no-update-notifier \
      -w cli -w services/wechat-gateway -w services/im-callback -w services/dashboard \
      -w services/im-worker -w services/wechat-pusher \
 && find packages services cli -name '*.tsbuildinfo' -delete \
 && rm -rf packages/*/src packages/*/test services/*/src services/*/test cli/src

FROM ${NODE_IMAGE}
ENV NODE_ENV=production
# ffmpeg: the im-worker turns customers' voice messages (AMR, Speex) into MP3 that IM clients play.
# Debian's build has the AMR and Speex decoders and LAME. The base images made by
# scripts/docker/base-images.sh carry it already; Docker Hub's node image gets it here.
RUN command -v ffmpeg >/dev/null 2>&1 \
 || { apt-get update && apt-get install -y --no-install-recommends ffmpeg && rm -rf /var/lib/apt/lists/*; }
WORKDIR /app
COPY --from=deps --chown=root:root /app /app
# The image's own unprivileged user; nothing under /app is writable by it.
USER node
EXPOSE 3000 3001 3002 3003 3004 3005 9101 9102
ENTRYPOINT ["node"]
CMD ["cli/dist/main.js"]
