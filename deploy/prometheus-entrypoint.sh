#!/bin/sh
# prometheus-entrypoint.sh -- reads the metrics password (/run/secrets/metrics_password,
# or $METRICS_PASSWORD_FILE), writes Prometheus's web config with its bcrypt hash
# (user zcrawl), then runs Prometheus as uid 10001 with any extra flags given.
set -eu
pwfile=${METRICS_PASSWORD_FILE:-/run/secrets/metrics_password}
[ -r "$pwfile" ] || { echo "prometheus-entrypoint: error: cannot read $pwfile" >&2; exit 2; }
hash=$(htpasswd -niBC 10 zcrawl <"$pwfile" | cut -d: -f2-)
[ -n "$hash" ] || { echo "prometheus-entrypoint: error: cannot hash the password" >&2; exit 2; }
umask 077
printf 'basic_auth_users:\n  zcrawl: %s\n' "$hash" >/etc/prometheus/web.yml
chown 10001:10001 /etc/prometheus/web.yml
exec setpriv --reuid=10001 --regid=10001 --clear-groups \
    prometheus --config.file=/etc/prometheus/prometheus.yml --storage.tsdb.path=/prometheus \
    --web.config.file=/etc/prometheus/web.yml --web.listen-address=:9090 "$@"
