# Sentiment API image: gunicorn terminating TLS, running as a non-root user.
#
# Secrets are never baked into the image. Started with nothing mounted, it makes its own (a private CA
# and server certificate, and a first token shown once on stderr; api/ops/container.py), in
# /app/instance, or under /tmp when the root file system is read-only. In production, mount them:
#   certs/  -> /app/certs (read-only): server.crt and server.key, which gunicorn.conf.py reads
#              by default (override with API_TLS_CERT / API_TLS_KEY).
#   tokens  -> /app/instance/tokens.json, the default of API_TOKENS_FILE (set it to move the file).
# server.key is written with mode 0600, so on the host it must be owned by (or readable by) uid 10001.
#
#   docker run --rm --read-only --tmpfs /tmp -p 5000:5000 \
#     -v "$PWD/certs:/app/certs:ro" -v "$PWD/instance:/app/instance" sentiment-api
#
# The same image runs a job worker (api/jobs/worker.py; one per core): `python -m api jobs worker`,
# given the API's broker, job database, job folder and limiter storage (API_JOBS_BROKER_URL,
# API_JOBS_DATABASE_URL, API_JOBS_DIR, API_RATE_LIMIT_STORAGE). deploy/compose.yaml runs it so, the
# URLs built from secret files; /app/jobs below is where deploy/ mounts the shared job folder.
# Without API_JOBS_BROKER_URL the API container runs one itself (the embedded default).

# The pinned official base. The container tests pass a stand-in built from Debian's packages
# (scripts/base-image.sh) because no registry is reachable where they run; this default stays.
ARG BASE_IMAGE=python:3.11.7-slim-bookworm

# Build stage: pip and its caches stay here, only the finished venv moves on.
FROM ${BASE_IMAGE} AS builder

ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1

RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH

WORKDIR /build
COPY requirements.txt constraints.txt ./
# Then out of the venv what serving never runs: the libraries' own test suites (~90 MB, mostly
# scipy's and scikit-learn's; tornado's holds a private key, which the image's scan would find) and
# pip and setuptools themselves (~23 MB).
RUN pip install --no-cache-dir -r requirements.txt -c constraints.txt \
    && find /opt/venv/lib -type d \( -name tests -o -name test \) -prune -exec rm -rf {} + \
    && pip uninstall --yes --quiet pip setuptools


# Runtime stage: same pinned base so the venv's interpreter path and ABI match.
FROM ${BASE_IMAGE}

# OPENSSL_CONF limits TLS key exchange to X25519, P-256 and P-384 (Python's ssl module cannot).
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PATH=/opt/venv/bin:$PATH \
    OPENSSL_CONF=/app/deploy/openssl.cnf

# Fixed uid so host files (the mounted key and tokens) can be granted to exactly this user.
RUN groupadd --system --gid 10001 app \
    && useradd --system --uid 10001 --gid app --no-create-home --home-dir /nonexistent \
        --shell /usr/sbin/nologin app

WORKDIR /app
COPY --from=builder /opt/venv /opt/venv
# Code and model stay owned by root: the service user can read them but not alter them.
COPY api/ api/
COPY model/ model/
COPY artifacts/ artifacts/
COPY wsgi.py gunicorn.conf.py alembic.ini ./
COPY migrations/ migrations/
COPY deploy/openssl.cnf deploy/openssl.cnf

# The jobs' shared folder (API_JOBS_DIR in deploy/): a new Docker volume mounted here takes this
# owner and mode, so the service's user can write it and nobody else can read it.
RUN mkdir -m 0700 /app/jobs && chown 10001:10001 /app/jobs
# The tokens file, the default SQLite history, and what the start makes when nothing is mounted.
RUN mkdir -m 0700 /app/instance && chown 10001:10001 /app/instance

# Numeric, so Kubernetes' runAsNonRoot can check it without reading /etc/passwd (it is user app).
USER 10001:10001
EXPOSE 5000

# slim has no curl, so the probe uses the stdlib. Certificate checks are skipped on purpose: the
# probe talks to its own process over loopback, where nobody can intercept, and verifying would tie
# liveness to ca.crt being mounted, which a deployment with a public certificate does not need.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import os, ssl, urllib.request; ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE; urllib.request.urlopen('https://127.0.0.1:' + os.environ.get('PORT', '5000') + '/healthz', context=ctx, timeout=4)"]

# Makes certificates and a first token only when none is mounted, then becomes gunicorn (PID 1, so
# it gets docker stop's SIGTERM). deploy/ replaces this command with its own (secrets mounted).
CMD ["python", "-m", "api.ops.container"]
