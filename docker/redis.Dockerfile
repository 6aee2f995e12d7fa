# Redis 7 from Debian 12's packages, for docker/compose.yaml: roster's
# queue, with an append-only file in the volume so that a restart keeps it.
FROM debian:12
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends redis-server \
 && apt-get clean && rm -rf /var/lib/apt/lists/* \
 && install -d -o redis -g redis -m 750 /data
USER redis
WORKDIR /data
VOLUME /data
EXPOSE 6379
# No password and protected mode off: it is reachable only on the compose
# network, never published.
CMD ["redis-server", "--appendonly", "yes", "--dir", "/data", "--bind", "0.0.0.0", "--protected-mode", "no"]
