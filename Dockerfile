# ccflare as a container image: docs/deployment.md, "The container".
#   docker build -t ccflare .          (or podman build)
#   docker run -p 8080:8080 -v ccflare-data:/data -e ALLOWED_HOSTS=... ccflare
# Configured by the same environment variables as `make run` (.env.example).
# BASE_IMAGE: any Debian-like image with Python 3.11+ (python3); the same one for both stages.
ARG BASE_IMAGE=docker.io/library/python:3.11-slim-bookworm

FROM ${BASE_IMAGE} AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
# A plain Debian base has python3 without venv/ensurepip; the python images have both.
RUN python3 -c "import ensurepip" 2>/dev/null || { \
        apt-get update && apt-get install -y --no-install-recommends python3-venv \
        && rm -rf /var/lib/apt/lists/*; }
WORKDIR /opt/ccflare
COPY requirements.txt .
RUN python3 -m venv .venv && .venv/bin/pip install -q -r requirements.txt
COPY . .
# Readable by the server's user whatever the checkout's modes (a clone made with umask 077
# gave 0600 files, and the server could not read its own migrations). Compiled once here,
# so the read-only app directory needs no writes at run time.
RUN chmod -R a+rX . \
    && .venv/bin/python -m compileall -q accounts access agents analytics ccflare_site lib proxy tui

FROM ${BASE_IMAGE}
RUN groupadd --system ccflare \
    && useradd --system --gid ccflare --home-dir /data --no-create-home --shell /usr/sbin/nologin ccflare \
    && mkdir -p /data && chown ccflare:ccflare /data && chmod 700 /data
COPY --from=build /opt/ccflare /opt/ccflare
WORKDIR /opt/ccflare
ENV PATH=/opt/ccflare/.venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    DATA_DIR=/data \
    HOST=0.0.0.0 \
    PORT=8080 \
    CCFLARE_IGNORE_DOTENV=1
VOLUME /data
USER ccflare
EXPOSE 8080
# /health answers 503 when the accounts exist and none can serve: the server itself is
# fine then, so only no answer at all counts as unhealthy (deploy/healthcheck.py).
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python3", "deploy/healthcheck.py"]
# Migrations and the first admin login, as `make run` does, then the server (PID 1, which
# drains on SIGTERM: give `docker stop` a -t above SHUTDOWN_DRAIN_SECONDS).
ENTRYPOINT ["deploy/entrypoint.sh"]
