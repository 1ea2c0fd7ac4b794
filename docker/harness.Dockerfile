# The harness CLI in a small runtime image, running as a non-root user.
#   docker build -f docker/harness.Dockerfile -t partner-intake-harness .
#   docker run --rm partner-intake-harness scenario smoke
FROM rust:1.95-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked -p harness \
    && strip target/release/harness

FROM debian:bookworm-slim
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --create-home --uid 10001 harness
COPY --from=build /src/target/release/harness /usr/local/bin/harness
COPY --from=build /src/infra/definitions /opt/partner-intake/infra/definitions
COPY --from=build /src/scenarios /opt/partner-intake/scenarios
ENV HARNESS_INFRA_DIR=/opt/partner-intake/infra
WORKDIR /opt/partner-intake
USER 10001
ENTRYPOINT ["/usr/local/bin/harness"]
CMD ["scenario", "--list"]
