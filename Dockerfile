# Marquee API server, configured only by environment variables (see docker-compose.yml and
# graph/settings.py): DATABASE_URL, MARQUEE_ENV=production, MARQUEE_JWT_SECRET,
# MARQUEE_TICKET_SIGNING_KEY, MARQUEE_*.
# `marquee serve` applies the migrations, then starts uvicorn (uvloop + httptools).
FROM python:3.12-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app
RUN useradd --create-home --uid 10001 marquee

# The package is installed in place (editable): the CLI finds alembic.ini and migrations/
# next to the code.
# Dependencies come from the lock only (exact versions, every file checked against its hash),
# in a layer of their own; then the project itself, without dependencies, built with the
# locked setuptools.
COPY requirements.lock ./
RUN pip install --require-hashes -r requirements.lock
COPY pyproject.toml README.md alembic.ini ./
COPY graph ./graph
COPY db ./db
COPY migrations ./migrations
RUN pip install --no-deps --no-build-isolation -e . && pip check && chown -R marquee /app

USER marquee
ENV MARQUEE_ENV=production \
    MARQUEE_HOST=0.0.0.0 \
    MARQUEE_PORT=8000 \
    MARQUEE_DATA_DIR=/tmp/marquee

EXPOSE 8000
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
    CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=2)"
CMD ["marquee", "serve"]
