# The provider image: the Go half of the addon, which the canary-rollout and
# canary-rollback steps call over HTTP. The addon's `image` parameter points at it.
#
#   docker build -t <registry>/istio-canary-provider:<tag> .
FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY cmd/istio-canary-provider cmd/istio-canary-provider
COPY providers providers
RUN CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /out/istio-canary-provider ./cmd/istio-canary-provider

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/istio-canary-provider /istio-canary-provider
# Numeric, so that the Deployment's runAsNonRoot can verify it.
USER 65532:65532
EXPOSE 8080
ENTRYPOINT ["/istio-canary-provider"]
