# The prefect-agent image: the agent in a virtualenv, run as a non-root user.
#
#   docker build -t "prefect-agent:$(sed -n 's/^__version__ = "\(.*\)"/\1/p' src/prefect_agent/_version.py)" .
#   docker build --build-arg EXTRAS=kubernetes,metrics -t ... .
#   docker build --build-arg PREFECT_CORE='prefect==1.4.1 marshmallow<3.20 marshmallow-oneofschema<3.1' ...
#
# BASE_IMAGE must provide python3 (with venv) and a shell; both stages use the same one so the
# virtualenv's interpreter link stays valid. See docs/kubernetes.md.
ARG BASE_IMAGE=python:3.11-slim-bookworm

FROM ${BASE_IMAGE} AS builder
# Extras of prefect-agent (docker, kubernetes, server, metrics), comma-separated.
ARG EXTRAS=kubernetes,metrics
# Requirement specifiers of Prefect core, installed too when set: the local agent's flow runs
# (`python -m prefect execute flow-run`) need it in the agent's own Python.
ARG PREFECT_CORE=
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python3 -m venv /opt/prefect-agent
# Prefect core before prefect-agent: the `prefect` command then is prefect-agent's drop-in,
# which hands every command but `agent` to Prefect core.
RUN if [ -n "$PREFECT_CORE" ]; then /opt/prefect-agent/bin/pip install $PREFECT_CORE; fi
COPY pyproject.toml README.md /src/
COPY src /src/src
RUN /opt/prefect-agent/bin/pip install "/src${EXTRAS:+[$EXTRAS]}" \
    && /opt/prefect-agent/bin/pip uninstall -y -q pip setuptools wheel

FROM ${BASE_IMAGE}
RUN groupadd --gid 10001 prefect \
    && useradd --uid 10001 --gid prefect --home-dir /home/prefect --create-home \
        --shell /usr/sbin/nologin prefect
COPY --from=builder /opt/prefect-agent /opt/prefect-agent
ENV PATH=/opt/prefect-agent/bin:$PATH PYTHONUNBUFFERED=1
# Numeric, so Kubernetes can verify runAsNonRoot.
USER 10001
WORKDIR /home/prefect
# The health server of the install manifests' Deployment.
EXPOSE 8080
ENTRYPOINT ["prefect-agent"]
CMD ["agent", "kubernetes", "start"]
