# syntax=docker/dockerfile:1
# The duckgoose node as a container image: a static binary on an empty (scratch) base.
#   docker build -t duckgoose:0.1.0 .
# Build stage: the Rust toolchain and musl, building a fully static binary.
FROM rust:1.95-bookworm AS builder
# The base image pins the Debian release; its musl-tools is the one wanted. npm brings
# wasm-opt (binaryen) for the playground's wasm.
# hadolint ignore=DL3008
RUN rustup target add x86_64-unknown-linux-musl wasm32-unknown-unknown \
    && apt-get update \
    && apt-get install -y --no-install-recommends musl-tools nodejs npm \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
# The playground every node serves at / (node/build.rs embeds www/ and www/pkg).
RUN DUCKGOOSE_WEB_TOOLS=build scripts/build-web.sh
RUN cargo build --release --locked -p duckgoose --target x86_64-unknown-linux-musl \
    && cp target/x86_64-unknown-linux-musl/release/duckgoose /duckgoose \
    && mkdir -p /rootfs/data

# Final stage: only the binary and an empty data directory owned by the node's user.
FROM scratch
COPY --from=builder /duckgoose /duckgoose
COPY --from=builder --chown=65532:65532 /rootfs/data /data
# Not root: a numeric id, since scratch has no /etc/passwd.
USER 65532:65532
ENV DUCKGOOSE_DATA_DIR=/data \
    DUCKGOOSE_LISTEN=0.0.0.0:9900
VOLUME ["/data"]
EXPOSE 9900
# No HEALTHCHECK here: scratch has no shell or curl, and the right check (and its
# token, TLS CA and port) depends on the deployment. The binary probes itself, e.g.
#   HEALTHCHECK CMD ["/duckgoose", "probe", "http://127.0.0.1:9900/readyz"]
# as deploy/compose.yaml does.
ENTRYPOINT ["/duckgoose"]
CMD ["node"]
