# syntax=docker/dockerfile:1
# The image of one service, named by SERVICE (its folder, as in the service table). Build from the
# repository root: docker build --build-arg SERVICE=api-gateway -t titanium/api-gateway .
# Needs BuildKit (Docker's default builder), which builds only the stages the chosen service uses.
ARG NODE_IMAGE=node:24-bookworm-slim
ARG SERVICE

# Compiles TypeScript (the service and the shared kit) with the full toolchain.
FROM ${NODE_IMAGE} AS build
ARG SERVICE
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
# Every workspace manifest, so npm ci sees the lockfile's workspaces; sources come later.
COPY package.json package-lock.json tsconfig.base.json ./
COPY service-kit/package.json service-kit/
COPY load-balancer/package.json load-balancer/
COPY api-gateway/package.json api-gateway/
COPY auth-service/package.json auth-service/
COPY user-service/package.json user-service/
COPY blog-service/package.json blog-service/
COPY dashboard-ui/package.json dashboard-ui/
COPY load-tests/package.json load-tests/
RUN npm ci --no-audit --no-fund --include-workspace-root \
      --workspace @titanium/service-kit --workspace @titanium/${SERVICE}
COPY service-kit/ service-kit/
COPY ${SERVICE}/ ${SERVICE}/
# The workspace's own build script, so dashboard-ui's page is bundled into its dist/ too.
RUN npm run build --workspace @titanium/${SERVICE}

# Production dependencies only. The native addons are Node-API builds that load on any Node:
# better-sqlite3 ships one per platform, argon2 too (node-gyp compiles it with the toolchain above
# where none fits). SQLite's sources and the other platforms' builds are dropped.
FROM build AS deps
ARG SERVICE
RUN rm -rf node_modules service-kit/node_modules ${SERVICE}/node_modules \
 && npm ci --omit=dev --no-audit --no-fund --workspace @titanium/service-kit --workspace @titanium/${SERVICE} \
 && if [ -d node_modules/better-sqlite3 ]; then \
      rm -rf node_modules/better-sqlite3/deps node_modules/better-sqlite3/src \
      && node -e "const fs = require('fs'), dir = 'node_modules/better-sqlite3/prebuilds'; \
          for (const f of fs.readdirSync(dir)) if (f !== process.platform + '-' + process.arch + '.node') fs.rmSync(dir + '/' + f)"; \
    fi \
 && mkdir -p service-kit/node_modules ${SERVICE}/node_modules

FROM ${NODE_IMAGE} AS runtime
ARG SERVICE
RUN apt-get update \
 && apt-get install -y --no-install-recommends tini \
 && rm -rf /var/lib/apt/lists/*
ENV NODE_ENV=production
WORKDIR /app
COPY --from=deps /app/package.json ./
COPY --from=deps /app/node_modules/ node_modules/
COPY --from=deps /app/service-kit/package.json service-kit/
COPY --from=deps /app/service-kit/node_modules/ service-kit/node_modules/
COPY --from=build /app/service-kit/dist/ service-kit/dist/
COPY --from=deps /app/${SERVICE}/package.json ${SERVICE}/
COPY --from=deps /app/${SERVICE}/node_modules/ ${SERVICE}/node_modules/
COPY --from=build /app/${SERVICE}/dist/ ${SERVICE}/dist/
# tini as PID 1 forwards SIGTERM to node (graceful drain) and reaps zombies.
ENTRYPOINT ["/usr/bin/tini", "--"]
# The workspace's npm start, run where npm runs it.
WORKDIR /app/${SERVICE}
CMD ["node", "dist/server.js"]

# What differs between the services: the port each listens on, the volume mount points of the
# two that own a SQLite database, and the blog page's static files.
FROM runtime AS load-balancer-image
EXPOSE 7100

FROM runtime AS api-gateway-image
EXPOSE 8000

FROM runtime AS auth-service-image
EXPOSE 8002

FROM runtime AS dashboard-ui-image
EXPOSE 8080

# Mount points for the database and backup volumes, owned by node so a new compose volume starts writable.
FROM runtime AS sqlite-owner
RUN mkdir -p /data /backup && chown node:node /data /backup

FROM sqlite-owner AS user-service-image
EXPOSE 8001

FROM sqlite-owner AS blog-service-image
# The blog page's HTML and CSS; its compiled script is in dist/spa.
COPY --from=build /app/blog-service/spa/public/ spa/public/
EXPOSE 8005

# The stage of the service asked for. A SERVICE without one here (or none at all) names an image
# that no registry holds, so the build fails instead of making something else.
FROM ${SERVICE}-image
USER node
