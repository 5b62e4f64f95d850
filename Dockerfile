# syntax=docker/dockerfile:1
# xray on the CPU: a Rust builder stage, then a slim runtime holding the `xray`
# binary and JupyterLab (for `make jupyter`). The project is mounted at
# /workspace and the Hugging Face cache lives on a named volume, so fetched data
# outlives containers. Build: `make build`; shell: `make sh`.

FROM rust:1.95-slim-bookworm AS builder
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
COPY src ./src
COPY benches ./benches
COPY tests ./tests
# The registry and target caches make rebuilds after a source change take
# minutes instead of the full dependency build.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked \
    && cp target/release/xray /usr/local/bin/xray

FROM python:3.11-slim-bookworm AS runtime
# ffmpeg and espeak-ng for `xray video --voice` (Debian's, so unpinned).
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends ffmpeg espeak-ng \
    && rm -rf /var/lib/apt/lists/*
# JupyterLab for the walkthrough notebook; pinned so the image is reproducible.
RUN pip install --no-cache-dir jupyterlab==4.6.6
# A non-root user whose home holds the Hugging Face cache volume.
RUN useradd --create-home --uid 1000 xray \
    && mkdir -p /home/xray/.cache/huggingface /workspace \
    && chown -R xray:xray /home/xray/.cache /workspace \
    && chmod -R a+rwX /home/xray/.cache
COPY --from=builder /usr/local/bin/xray /usr/local/bin/xray
# Numeric, so the host and Kubernetes can tell it is not root.
USER 1000:1000
WORKDIR /workspace
# The notebook runs this binary, not one the host may have built into target/.
ENV HF_HOME=/home/xray/.cache/huggingface XRAY_BIN=/usr/local/bin/xray
VOLUME ["/home/xray/.cache/huggingface"]
EXPOSE 8888
CMD ["xray", "--help"]
