# Builds the copy function's bootstrap.zip (and its bootstrap.json manifest) for provided.al2023
# on an older glibc (Debian bullseye, 2.31), so the binary runs on Amazon Linux 2023 (2.34):
#   docker build -f docker/lambda.Dockerfile --output target/lambda/copy-lambda .
# For arm64 build on an arm64 platform (the image's toolchain is native):
#   docker buildx build --platform linux/arm64 --build-arg LAMBDA_ARCHITECTURE=arm64 -f docker/lambda.Dockerfile --output target/lambda/copy-lambda .
FROM rust:1.95-bullseye AS build
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends python3 binutils \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
ARG LAMBDA_ARCHITECTURE=x86_64
RUN bash lambda/scripts/package.sh --arch "$LAMBDA_ARCHITECTURE"

FROM scratch AS export
COPY --from=build /src/target/lambda/copy-lambda/bootstrap.zip /src/target/lambda/copy-lambda/bootstrap.json /
