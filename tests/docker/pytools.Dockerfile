# tests/docker/pytools.Dockerfile -- Python with pymongo, for scripts/test-swarm.sh to
# look inside a stack's network (nothing of it is published): Debian's packages on
# debian:bookworm-slim, no registry.
ARG DEBIAN_SLIM_IMAGE=debian:bookworm-slim
FROM ${DEBIAN_SLIM_IMAGE}
ARG DEBIAN_FRONTEND=noninteractive
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 python3-pymongo \
 && rm -rf /var/lib/apt/lists/*
USER 65534:65534
