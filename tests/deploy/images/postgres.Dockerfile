# Test stand-in for the official postgres image (no registry is reachable here): Debian's
# PostgreSQL with the same interface: POSTGRES_USER/PASSWORD/DB on first start, data in
# /var/lib/postgresql/data, the port from PGPORT.
ARG BASE_IMAGE
FROM ${BASE_IMAGE}
RUN apt-get update && apt-get install -y --no-install-recommends postgresql-15 \
    && rm -rf /var/lib/apt/lists/* && mkdir -p /var/lib/postgresql/data \
    && chown postgres:postgres /var/lib/postgresql/data
COPY postgres-entrypoint.sh /usr/local/bin/
ENV PGDATA=/var/lib/postgresql/data PATH=/usr/lib/postgresql/15/bin:$PATH
USER postgres
ENTRYPOINT ["postgres-entrypoint.sh"]
