# Brook: one image, two entrypoints: `brook broker` (the default) and `brook operator`. Node 24 runs the TypeScript sources
# directly (type stripping); the one thing built is the native add-on (sendfile for Fetch: broker/native/), with the C
# compiler of the full node image.
ARG BASE_IMAGE=node:24-slim
ARG BUILD_IMAGE=node:24

FROM ${BUILD_IMAGE} AS native
WORKDIR /app
COPY scripts/build-native.mjs ./scripts/
COPY broker/native/brook_native.c ./broker/native/
RUN node scripts/build-native.mjs --require

FROM ${BASE_IMAGE} AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund

FROM ${BASE_IMAGE}
LABEL org.opencontainers.image.title="brook" \
      org.opencontainers.image.description="Kafka-compatible event-streaming broker fleet for Kubernetes" \
      org.opencontainers.image.licenses="Apache-2.0"
WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
COPY package.json ./
COPY bin ./bin
COPY broker ./broker
COPY --from=native /app/broker/native/build ./broker/native/build
COPY operator ./operator
RUN useradd --system --uid 10001 --home-dir /var/lib/brook brook \
 && mkdir -p /var/lib/brook && chown brook /var/lib/brook
USER 10001
EXPOSE 9092 9464
VOLUME /var/lib/brook
ENTRYPOINT ["/app/bin/brook"]
CMD ["broker", "--listen", "0.0.0.0:9092", "--data-dir", "/var/lib/brook", "--metrics-host", "0.0.0.0"]
