# The service swiftdeploy deploys (src/app). Two ways to build it, same result:
#
#   docker build -t swiftdeploy-app .
#       The normal build: npm ci with dev dependencies, compile, ship production dependencies only.
#
#   scripts/stage-app.sh && docker build --target prebuilt --build-arg NODE_IMAGE=swiftdeploy-node:local .
#       For machines where nothing inside a container reaches the npm registry: the host stages
#       .build/app (same script the normal build runs) and this target only COPYs it in.
#
# NODE_IMAGE must be a Debian-based image with node on PATH (groupadd and useradd create the user).
# For production, pin it by digest (node:24-slim@sha256:...) so a rebuild is reproducible.
# No "# syntax=" line on purpose: it would make BuildKit pull a frontend image, which fails offline.
ARG NODE_IMAGE=node:24-slim
# Stage order matters: the legacy builder (no BuildKit) builds every stage before the target, so
# `prebuilt` comes before `build`, whose npm ci would need the registry.

# ---- runtime base: everything both final targets share -----------------------------------------
FROM ${NODE_IMAGE} AS runtime-base
# A dedicated system user with no home and no shell; the code it runs stays root-owned, read-only to it.
# uid/gid 10001 match the `user:` line swiftdeploy's docker-compose.yml sets.
RUN groupadd --system --gid 10001 app \
 && useradd --system --uid 10001 --gid app --no-create-home --home-dir /nonexistent \
      --shell /usr/sbin/nologin app
# PORT, MODE, APP_VERSION and CHAOS_TOKEN come from docker-compose.yml; the app's defaults apply otherwise.
ENV NODE_ENV=production
WORKDIR /app
EXPOSE 3000
# The app drains in-flight requests on SIGTERM (bounded by DRAIN_TIMEOUT_SECONDS, default 8 s,
# inside Docker's default 10 s stop grace period).
STOPSIGNAL SIGTERM
# node itself, no curl: the image has no HTTP client. /healthz is exempt from chaos, so a slowed or
# failing canary is measured rather than restarted by its own healthcheck.
HEALTHCHECK --interval=5s --timeout=3s --start-period=5s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.PORT||3000)+'/healthz',{signal:AbortSignal.timeout(2500)}).then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
USER app:app
# Exec form: node is PID 1 and receives SIGTERM itself (it installs its own handlers).
CMD ["node", "dist/app/main.js"]

# ---- prebuilt: COPY what scripts/stage-app.sh staged on the host --------------------------------
FROM runtime-base AS prebuilt
COPY .build/app/ /app/

# ---- build: dev dependencies, compile, stage --------------------------------------------------
FROM ${NODE_IMAGE} AS build
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json ./
COPY src/app ./src/app
COPY scripts/stage-app.sh ./scripts/stage-app.sh
RUN bash scripts/stage-app.sh

# ---- runtime (default target): the normal build ------------------------------------------------
FROM runtime-base AS runtime
COPY --from=build /src/.build/app/ /app/
