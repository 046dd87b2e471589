# syntax=docker/dockerfile:1
# Build: docker build -t jobsd .
# Run:   docker run -p 8080:8080 -e JOBSD_TOKEN=secret -v jobsd-data:/data jobsd
# Stop:  docker stop -t 40 <container>   (-t must exceed --shutdown-timeout + the jobs' grace)

FROM swift:6.2-bookworm AS build
WORKDIR /src
RUN apt-get update \
    && apt-get install -y --no-install-recommends libsqlite3-dev libcurl4-openssl-dev libssl-dev libpq-dev \
    && rm -rf /var/lib/apt/lists/*
# Dependencies resolve in their own layer, cached until Package.swift changes.
COPY Package.swift ./
RUN swift package resolve
COPY Sources ./Sources
COPY Tests ./Tests
COPY Benchmarks/LoadGen ./Benchmarks/LoadGen
COPY openapi.yaml ./
RUN swift build -c release --static-swift-stdlib --product jobsd \
    && swift build -c release --static-swift-stdlib --product jobctl \
    && install -D "$(swift build -c release --show-bin-path)/jobsd" /out/jobsd \
    && install -D "$(swift build -c release --show-bin-path)/jobctl" /out/jobctl

FROM debian:bookworm-slim
RUN apt-get update \
    && apt-get install -y --no-install-recommends libsqlite3-0 libcurl4 libssl3 libpq5 ca-certificates curl \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --home-dir /data --shell /usr/sbin/nologin jobsd \
    && mkdir -p /data && chown jobsd:jobsd /data
COPY --from=build /out/jobsd /out/jobctl /usr/local/bin/
USER 10001:10001
WORKDIR /data
VOLUME ["/data"]
ENV JOBSD_HOST=0.0.0.0 \
    JOBSD_PORT=8080 \
    JOBSD_DATA_DIR=/data
EXPOSE 8080
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=10s --timeout=3s --start-period=5s --retries=3 \
    CMD ["curl", "-fsS", "-o", "/dev/null", "http://127.0.0.1:8080/healthz"]
ENTRYPOINT ["/usr/local/bin/jobsd"]
