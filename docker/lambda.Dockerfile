# Builds the copy function's bootstrap.zip for provided.al2023 on an older glibc (Debian
# bullseye, 2.31), so the binary runs on Amazon Linux 2023 (2.34):
#   docker build -f docker/lambda.Dockerfile --output target/lambda/copy-lambda .
FROM rust:1.95-bullseye AS build
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends python3 binutils \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN bash lambda/scripts/package.sh

FROM scratch AS export
COPY --from=build /src/target/lambda/copy-lambda/bootstrap.zip /bootstrap.zip
