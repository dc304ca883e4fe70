# syntax=docker/dockerfile:1
# Images of the failover orchestrator: one build stage, then one small static image per binary, each running as a
# non-root user on distroless (no shell, no package manager). Pick one with --target:
#
#   docker build --target worker   -t failover/worker:1.2.0 --build-arg VERSION=1.2.0 .   # the Temporal worker
#   docker build --target starter  -t failover/starter .    # the CLI and `starter serve` (Alertmanager/Slack)
#   docker build --target regiond  -t failover/regiond .    # the demo region service (compose demo only)
#   docker build --target demoseed -t failover/demoseed .   # seeds Kong and etcd for a plan (compose demo only)
#
# The go build line uses exactly the flags of `make build`; deploy/deploytest runs this very command in CI.

ARG GO_VERSION=1.26.8

FROM golang:${GO_VERSION} AS build
ENV GOTOOLCHAIN=local
WORKDIR /src
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod go mod download
COPY . .
RUN --mount=type=cache,target=/go/pkg/mod --mount=type=cache,target=/root/.cache/go-build \
    CGO_ENABLED=0 go build -trimpath -ldflags '-s -w' -o /out/ ./worker ./starter ./deploy/regiond ./deploy/demoseed ./deploy/healthcheck

FROM gcr.io/distroless/static-debian12:nonroot AS worker
# The worker's build ID in the Worker Deployment "failover": build each image with --build-arg VERSION=<its tag>.
# Without it the worker runs unversioned (README, "Upgrading the worker").
ARG VERSION=""
ENV FAILOVER_BUILD_ID=${VERSION}
COPY --from=build /out/worker /out/healthcheck /usr/local/bin/
USER 65532:65532
EXPOSE 9464
HEALTHCHECK --interval=10s --timeout=5s --start-period=20s --retries=3 CMD ["/usr/local/bin/healthcheck", "http://127.0.0.1:9464/metrics"]
ENTRYPOINT ["/usr/local/bin/worker"]

FROM gcr.io/distroless/static-debian12:nonroot AS starter
COPY --from=build /out/starter /out/healthcheck /usr/local/bin/
USER 65532:65532
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/starter"]

FROM gcr.io/distroless/static-debian12:nonroot AS regiond
COPY --from=build /out/regiond /out/healthcheck /usr/local/bin/
USER 65532:65532
EXPOSE 9101
ENTRYPOINT ["/usr/local/bin/regiond"]

FROM gcr.io/distroless/static-debian12:nonroot AS demoseed
COPY --from=build /out/demoseed /usr/local/bin/
USER 65532:65532
ENTRYPOINT ["/usr/local/bin/demoseed"]
