#!/bin/sh
# redis-entrypoint.sh -- as the official image does: when the command is
# redis-server with no config file, listen on every interface with protected
# mode off and keep data in the working folder (/data).
set -e
if [ "${1:-}" = redis-server ]; then
    shift
    case "${1:-}" in
        /*.conf|*.conf) conf=$1; shift; set -- redis-server "$conf" "$@" ;;
        *) set -- redis-server --bind '* -::*' --protected-mode no --dir /data "$@" ;;
    esac
fi
exec "$@"
