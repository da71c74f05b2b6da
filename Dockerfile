# syntax=docker/dockerfile:1.7
# Reelin as a container image: one image for every role (serve, api, worker, migrate).
#   docker build -t reelin .
#   docker run -p 8080:8080 -v reelin-data:/data reelin            # embedded defaults
#   docker compose -f deploy/compose.yaml up                        # PostgreSQL + MinIO, 2 API, 3 workers

ARG NODE_IMAGE=node:24-bookworm-slim

# --- build: compile TypeScript and the web application, then keep only the runtime dependencies ----
FROM ${NODE_IMAGE} AS build
WORKDIR /app
COPY package.json package-lock.json ./
# Optional dependencies stay: native bindings such as @node-rs/crc32's are optional packages.
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
COPY web ./web
# The npm-bundled ffmpeg builds are only a fallback; the image ships Debian's ffmpeg instead.
# `npm run build` writes the server to dist/ and the web application to dist/web, which the image serves at /.
RUN npm run build \
 && npm prune --omit=dev --no-audit --no-fund \
 && rm -rf node_modules/@ffmpeg-installer node_modules/@ffprobe-installer

# --- runtime: Node, Debian's ffmpeg, util-linux (prlimit and setpriv confine every ffmpeg run), the service, unprivileged
FROM ${NODE_IMAGE} AS runtime
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends ffmpeg tini ca-certificates util-linux \
 && rm -rf /var/lib/apt/lists/*
ENV NODE_ENV=production \
    HOST=0.0.0.0 \
    PORT=8080 \
    REELIN_DATA_DIR=/data
WORKDIR /app
COPY --from=build /app/package.json ./package.json
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY drizzle ./drizzle
# The node image's unprivileged user (uid 1000) owns only the data folder.
RUN mkdir -p /data && chown node:node /data
USER node
VOLUME ["/data"]
EXPOSE 8080
# tini forwards SIGTERM to Node, which stops gracefully (running copies are handed back to the queue).
ENTRYPOINT ["/usr/bin/tini", "--", "node", "--max-semi-space-size=8", "--no-liftoff", "dist/main.js"]
CMD ["serve"]
