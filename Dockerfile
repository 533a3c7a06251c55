# syntax=docker/dockerfile:1
# cs-signals worker image: `docker build -t cs-signals .`, then
#   docker run --rm -e KAFKA_BOOTSTRAP_SERVERS=... -e REDIS_URL=... cs-signals            (worker)
#   docker run --rm cs-signals check-config                                        (any command)

# ---- build: install the project into a virtualenv -------------------------------------------
# Compilers live only in this stage: on platforms without prebuilt wheels (e.g. arm64) a
# dependency may build from source; the runtime image below stays slim.
FROM python:3.11-slim AS build
RUN apt-get update \
    && apt-get install -y --no-install-recommends build-essential \
    && rm -rf /var/lib/apt/lists/*
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
COPY pyproject.toml README.md ./
COPY events ./events
COPY workers ./workers
COPY config ./config
RUN pip install .

# ---- runtime -------------------------------------------------------------------------------
FROM python:3.11-slim
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1
# A fixed, unprivileged user. The local state store (CS_DATA_DIR) is /data: mount a volume
# there so a restarted worker reads only the changelog's tail.
RUN groupadd --system --gid 10001 app \
    && useradd --system --uid 10001 --gid app --home-dir /var/lib/cs-signals --create-home app \
    && mkdir -p /data && chown app:app /data
ENV CS_DATA_DIR=/data
COPY --from=build /opt/venv /opt/venv
USER app
WORKDIR /var/lib/cs-signals
ENTRYPOINT ["cs-signals"]
CMD ["worker"]
