# syntax=docker/dockerfile:1
# One image per service, from the same Dockerfile:
#   docker build --build-arg SERVICE=identity --build-arg PORT=8081 --build-arg VERSION=1.0.0 \
#     --build-arg COMMIT=$(git rev-parse --short HEAD) -t csi-identity:1.0.0 .
# `make images` builds every service this way, with the port of its line in services/services.tsv. The result is a static binary on distroless
# (no shell, no package manager), running as the nonroot user (uid 65532, as the charts require).

ARG GO_VERSION=1.26

FROM golang:${GO_VERSION} AS build
ARG SERVICE
ARG PORT
ARG VERSION=dev
ARG COMMIT=unknown
RUN test -n "$SERVICE" || { echo "build with --build-arg SERVICE=<name> (a name of services/services.tsv)" >&2; exit 1; }
RUN test -n "$PORT" || { echo "build with --build-arg PORT=<its port in services/services.tsv>" >&2; exit 1; }
WORKDIR /src
# The workspace (go.work) names every module, so each one's go.mod must be present; the chart
# tests' module contributes only its go.mod and go.sum. Module downloads and build results are
# kept in BuildKit cache mounts between builds.
COPY go.work go.work.sum ./
COPY pkg/ ./pkg/
COPY services/ ./services/
COPY tools/ ./tools/
COPY charts/test/go.mod charts/test/go.sum ./charts/test/
RUN --mount=type=cache,target=/go/pkg/mod --mount=type=cache,target=/root/.cache/go-build \
    CGO_ENABLED=0 GOOS=linux go build -trimpath \
      -ldflags "-s -w -X github.com/csi-lombardia/csi/pkg/app.Version=${VERSION} -X github.com/csi-lombardia/csi/pkg/app.Commit=${COMMIT}" \
      -o /out/service "./services/${SERVICE}/cmd/${SERVICE}"

FROM gcr.io/distroless/static-debian12:nonroot
ARG SERVICE
ARG VERSION=dev
ARG COMMIT=unknown
# The service's listen port (CSI_HTTP_ADDR): its port in services/services.tsv.
ARG PORT
LABEL org.opencontainers.image.title="csi-${SERVICE}" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${COMMIT}" \
      org.opencontainers.image.source="https://github.com/csi-lombardia/csi"
COPY --from=build /out/service /usr/local/bin/service
USER 65532:65532
EXPOSE ${PORT}
ENTRYPOINT ["/usr/local/bin/service"]
