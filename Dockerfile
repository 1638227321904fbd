# The Airlock image: one binary for `airlock serve` (API, issuers, web console), `airlock webhook serve`
# and the `airlock agent` sidecar the webhook injects. Its entrypoint is `airlock`, with `node` on PATH
# (the sidecar's startup probe runs `node -e`), as `airlock webhook manifest --image` expects.
#
#   docker build -t registry.example.com/airlock:0.1.0 .
#   npx airlock webhook manifest --cluster prod-aws --server https://airlock.internal.example.com \
#       --image registry.example.com/airlock:0.1.0 > webhook.yaml
#
# It runs as any non-root user on a read-only root filesystem (the manifest uses uid 65532): the CLI
# bundle and the web console are built here, and nothing is written under /opt/airlock at run time.
# `airlock serve` keeps its embedded store in /var/lib/airlock (mount a volume), or uses
# AIRLOCK_DATABASE_URL.

FROM node:20-bookworm AS build
WORKDIR /opt/airlock
COPY . .
# better-sqlite3 compiles against this image's Node when no prebuilt binary can be fetched
# (python3, make and g++ are in node:20-bookworm). `prepare` builds the CLI bundle and the console.
RUN npm ci --no-audit --no-fund
# The console where the final image finds it, whatever happens to node_modules below.
RUN AIRLOCK_UI_CACHE=/tmp/airlock-ui node bin/ui.js && mv /tmp/airlock-ui/ui-* /opt/airlock/console
RUN npm prune --omit=dev --no-audit --no-fund && rm -rf node_modules/.cache

FROM node:20-bookworm-slim
WORKDIR /opt/airlock
COPY --from=build /opt/airlock /opt/airlock
# The bundle's name carries a fingerprint of the Node version too: compiled by the Node that runs it.
RUN node bin/compiled.js \
  && ln -s /opt/airlock/bin/airlock.js /usr/local/bin/airlock \
  && mkdir -p /var/lib/airlock && chown 65532:65532 /var/lib/airlock
ENV NODE_ENV=production \
    AIRLOCK_UI_DIR=/opt/airlock/console \
    AIRLOCK_DATA_DIR=/var/lib/airlock
USER 65532:65532
ENTRYPOINT ["airlock"]
CMD ["serve", "--host", "0.0.0.0"]
