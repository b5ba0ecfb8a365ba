# One image for every service: pick the service with the command, e.g.
#   docker run IMAGE services/wechat-gateway/dist/main.js
FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json tsconfig.base.json tsconfig.build.json ./
COPY packages packages
COPY services services
COPY launcher launcher
COPY bench bench
COPY testkit testkit
RUN npm ci --no-audit --no-fund && npm run build && npm prune --omit=dev

FROM node:20-bookworm-slim
ENV NODE_ENV=production
WORKDIR /app
COPY --from=build /app /app
USER node
EXPOSE 3000 3001 3002 9101 9102
ENTRYPOINT ["node"]
CMD ["launcher/dist/main.js"]
