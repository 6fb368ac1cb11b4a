# The fleet platform image: the Dagster code location (a gRPC code server, and what each K8s run pod
# executes) and the trip ingest server. It builds from this repository with the package index as its only
# network source (pip; every dependency ships manylinux wheels, so no compiler). Run as a non-root user.
#   docker build -t fleet-platform .
#   code location:  docker run fleet-platform            (dagster api grpc on :4000, the default command)
#   ingest server:  docker run -p 8700:8700 fleet-platform fleet-ingest-server --host 0.0.0.0 --port 8700
# Configuration and secrets come from the environment only (README "Deploying"): FLEET_STORAGE_URL,
# FLEET_STATE_URL, AWS_*, MOTIVE_API_KEY, SAMSARA_API_TOKEN, GRAPH_SERVICE_URL, SEC_AUTH_TOKEN, DAGSTER_PG_URL.
# fleet_assets_tests/deploy/test_image.py installs these COPY lines the same way into a fresh venv and runs
# the entrypoints from it.

FROM python:3.11-slim AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
COPY protocol/ protocol/
COPY pyproject.toml README.md LICENSE ./
COPY fleet_assets/ fleet_assets/
# Not editable: the image runs the installed package, never a source checkout. `deploy` adds Dagster's
# Postgres storage and the K8s run launcher, which every process loading the instance needs.
RUN python -m venv /opt/fleet \
 && /opt/fleet/bin/pip install ./protocol ".[deploy]"

FROM python:3.11-slim
COPY --from=build /opt/fleet /opt/fleet
# The deployed instance config (env-driven: DAGSTER_PG_URL). The Helm chart mounts its own over it.
COPY deploy/dagster.yaml /opt/dagster/dagster_home/dagster.yaml
RUN useradd --create-home --uid 10001 --user-group fleet \
 && mkdir -p /var/lib/fleet \
 && chown -R fleet:fleet /var/lib/fleet /opt/dagster
ENV PATH=/opt/fleet/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    DAGSTER_HOME=/opt/dagster/dagster_home \
    FLEET_DATA_DIR=/var/lib/fleet
USER 10001
WORKDIR /var/lib/fleet
EXPOSE 4000 8700
CMD ["dagster", "api", "grpc", "-m", "fleet_assets.definitions", "--host", "0.0.0.0", "--port", "4000"]
