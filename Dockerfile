# NEPSE prediction service: a Prefect worker image that runs the project's flows.
# Installs from requirements.lock, exactly like `./run setup` in the README.

ARG PYTHON_IMAGE=python:3.11-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
ARG UV_VERSION=0.13.8
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    UV_NO_CACHE=1 \
    VIRTUAL_ENV=/opt/venv
WORKDIR /src
RUN python -m venv /opt/venv \
    && /opt/venv/bin/pip install --no-cache-dir "uv==${UV_VERSION}"
COPY requirements.lock pyproject.toml README.md ./
RUN /opt/venv/bin/uv pip sync --compile-bytecode --python /opt/venv/bin/python requirements.lock
COPY nepse ./nepse
COPY flows ./flows
COPY tasks ./tasks
COPY runs ./runs
RUN /opt/venv/bin/uv pip install --no-deps --compile-bytecode --python /opt/venv/bin/python . \
    && /opt/venv/bin/pip uninstall --yes uv

FROM ${PYTHON_IMAGE} AS runtime
LABEL org.opencontainers.image.title="nepse-predict" \
      org.opencontainers.image.description="Daily NEPSE return predictions (Prefect worker)"
# libgomp1: LightGBM's OpenMP runtime.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends libgomp1 \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --system --gid 10001 nepse \
    && useradd --system --uid 10001 --gid nepse --create-home --home-dir /home/nepse nepse
COPY --from=build /opt/venv /opt/venv
COPY --chown=nepse:nepse prefect.yaml /app/prefect.yaml
COPY --chown=nepse:nepse flows /app/flows
COPY --chown=nepse:nepse tasks /app/tasks
COPY --chown=nepse:nepse runs /app/runs
COPY --chown=nepse:nepse nepse /app/nepse
WORKDIR /app
RUN mkdir -p /data && chown nepse:nepse /data
# Prefect defaults: no analytics; the API URL (and key, for Cloud) come from the environment at
# run time, never from the image. Secrets (NEPSE_API_TOKEN) likewise.
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PREFECT_SERVER_ANALYTICS_ENABLED=false \
    PREFECT_LOGGING_LEVEL=INFO \
    NEPSE_DATA_DIR=/data \
    NEPSE_PROJECT_DIR=/app
USER 10001:10001
VOLUME ["/data"]
# A process worker inside the container, serving the deployments of prefect.yaml; its health
# endpoint (PREFECT_WORKER_WEBSERVER_PORT, default 8080) answers 200 while it polls the server.
# tests/e2e/test_server_worker.py runs this same command as its worker.
HEALTHCHECK --interval=60s --timeout=10s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8080/health', timeout=5)"]
CMD ["prefect", "worker", "start", "--pool", "nepse", "--type", "process", "--with-healthcheck"]
