# deploy/ferretdb.Dockerfile -- "mongo" for air-gapped use: FerretDB 1.x (MongoDB wire
# protocol) with its SQLite backend, on debian:bookworm-slim.
#
# Build context: the folder holding the ferretdb executable (.tools/bin, which
# `make deps` fills with `go install github.com/FerretDB/FerretDB/cmd/ferretdb@v1.24.2`).
# docker-compose.offline.yml sets this up; by hand:
#   docker build -f deploy/ferretdb.Dockerfile -t zcrawl-ferretdb .tools/bin
ARG DEBIAN_SLIM_IMAGE=debian:bookworm-slim
FROM ${DEBIAN_SLIM_IMAGE}
RUN groupadd --system --gid 10002 ferretdb \
 && useradd --system --uid 10002 --gid ferretdb --home-dir /state --shell /usr/sbin/nologin ferretdb \
 && mkdir -p /state /data/db \
 && chown ferretdb:ferretdb /state /data/db
COPY ferretdb /usr/local/bin/ferretdb
# Same data path as mongo:7 (/data/db), so one volume definition fits both.
VOLUME /data/db
WORKDIR /state
USER ferretdb
EXPOSE 27017
ENV FERRETDB_HANDLER=sqlite \
    FERRETDB_SQLITE_URL=file:/data/db/ \
    FERRETDB_STATE_DIR=/state \
    FERRETDB_LISTEN_ADDR=:27017 \
    FERRETDB_DEBUG_ADDR=- \
    FERRETDB_TELEMETRY=disable \
    FERRETDB_LOG_LEVEL=warn
ENTRYPOINT ["/usr/local/bin/ferretdb"]
