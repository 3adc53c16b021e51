# deploy/prometheus.Dockerfile -- Prometheus for the zcrawl stacks, built from
# Debian's package (bookworm: 2.42) on debian:bookworm-slim: no registry beyond
# Debian's mirror. The scrape config and alert rules of deploy/prometheus/ are in
# the image. Its web UI and API ask for a password: user zcrawl, the
# metrics.password secret (bcrypt-hashed into a web config at start); it scrapes
# the broker with the same password.
#   docker build -f deploy/prometheus.Dockerfile -t zcrawl-prometheus:local deploy
ARG DEBIAN_SLIM_IMAGE=debian:bookworm-slim
FROM ${DEBIAN_SLIM_IMAGE}
ARG DEBIAN_FRONTEND=noninteractive
RUN apt-get update \
 && apt-get install -y --no-install-recommends prometheus apache2-utils \
 && rm -rf /var/lib/apt/lists/* \
 && mkdir -p /prometheus && chown 10001:10001 /prometheus
COPY prometheus/prometheus.yml prometheus/alerts.yml /etc/prometheus/
COPY prometheus-entrypoint.sh /usr/local/bin/prometheus-entrypoint
RUN chmod 0755 /usr/local/bin/prometheus-entrypoint \
 && promtool check rules /etc/prometheus/alerts.yml
VOLUME /prometheus
EXPOSE 9090
# Starts as root to read its secret, then runs Prometheus as uid 10001 (the owner
# of the stack's secrets).
ENTRYPOINT ["prometheus-entrypoint"]
