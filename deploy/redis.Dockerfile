# deploy/redis.Dockerfile -- a stand-in for the official redis:7 image, built offline
# from Debian's redis-server package (bookworm: Redis 7.0) on debian:bookworm-slim.
# Same conventions as the official image: data in /data (a volume), runs as the
# user redis, `redis-server [flags]` as the command, protected mode off (the
# server is reachable only on the compose network), port 6379.
ARG DEBIAN_SLIM_IMAGE=debian:bookworm-slim
FROM ${DEBIAN_SLIM_IMAGE}
ARG DEBIAN_FRONTEND=noninteractive
RUN apt-get update \
 && apt-get install -y --no-install-recommends redis-server redis-tools \
 && rm -rf /var/lib/apt/lists/* \
 && mkdir -p /data && chown redis:redis /data
COPY redis-entrypoint.sh /usr/local/bin/redis-entrypoint
RUN chmod 0755 /usr/local/bin/redis-entrypoint
VOLUME /data
WORKDIR /data
USER redis
EXPOSE 6379
ENTRYPOINT ["redis-entrypoint"]
CMD ["redis-server"]
