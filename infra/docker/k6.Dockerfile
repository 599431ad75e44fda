# syntax=docker/dockerfile:1
# k6 with netlab's TCP extension (load/k6/xk6), for the compose `load` profile:
#
#   docker compose --profile load run --rm k6                  # load/k6/scenarios/smoke.ts
#   K6_SCENARIO=mixed docker compose --profile load run --rm k6
#
# Built from source with the Go toolchain (DESIGN.md: k6 is never downloaded as a binary).
FROM golang:1.25.4-bookworm AS build
WORKDIR /src
COPY load/k6/xk6/ ./
RUN --mount=type=cache,target=/root/go/pkg/mod \
    CGO_ENABLED=0 GOFLAGS=-buildvcs=false go build -trimpath -o /out/k6 .

FROM debian:12.11-slim
COPY --from=build /out/k6 /usr/local/bin/k6
COPY load/k6/ /load/k6/
# nobody: k6 writes nothing but its summary (to stdout, or RESULTS_DIR on a mounted volume).
USER 65534:65534
WORKDIR /load
ENTRYPOINT ["/usr/local/bin/k6"]
CMD ["run", "/load/k6/scenarios/smoke.ts"]
