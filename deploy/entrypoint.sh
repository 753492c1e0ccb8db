#!/bin/sh
# The container's start: what `make run` does, then the server as PID 1 (exec), so
# `docker stop` reaches it and it drains (docs/deployment.md, upgrades).
set -eu

# Retried: the database may still be starting (compose), and a second replica that
# starts alongside the first may lose a race on the same migration; the next try finds
# it applied.
retry() {
    tries=0
    until "$@"; do
        tries=$((tries + 1))
        if [ "$tries" -ge "${START_RETRIES:-30}" ]; then
            echo "ccflare: '$*' failed $tries times, giving up" >&2
            exit 1
        fi
        sleep 2
    done
}

retry python manage.py migrate --noinput
python manage.py collectstatic --noinput -v 0
retry python manage.py ensure_admin
exec python -m ccflare_site.serve
