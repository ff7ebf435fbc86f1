# reconciler: slim, non-root, `reconciler` as the entrypoint; by default the daemon.
# Build:  docker build -t reconciler .
# Daemon: docker run -d -p 8080:8080 -v reconciler-data:/data -v "$PWD/config:/config:ro" reconciler
#         (config/reconciler.yaml: source, data_dir: /data, listen: 0.0.0.0:8080; see docs/daemon.md)
# Once:   docker run --rm -v "$PWD:/fleet" reconciler validate /fleet
FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml constraints.txt README.md ./
COPY reconciler ./reconciler
COPY templates ./templates
RUN pip wheel --no-cache-dir --wheel-dir /wheels -c constraints.txt .

FROM python:3.11-slim
ARG VERSION=0.1.0
LABEL org.opencontainers.image.title="reconciler" \
      org.opencontainers.image.description="GitOps reconciliation of INSYS icom OS router fleets" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.licenses="Apache-2.0"
# git: the daemon and `--rev` read fleet repositories through the git CLI; Debian's git only
# recommends an SSH client, so openssh-client is named (git@host:repo and ssh:// sources).
# tini: PID 1 reaps the git subprocesses a timed-out fetch leaves behind and forwards SIGTERM.
# A fleet repository mounted from the host belongs to another uid: safe.directory lets git read it.
RUN apt-get update \
 && apt-get install --yes --no-install-recommends git openssh-client ca-certificates tini \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --create-home --uid 10001 --shell /usr/sbin/nologin reconciler \
 && git config --system --add safe.directory '*'

COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir --no-index --find-links /wheels reconciler && rm -rf /wheels
RUN mkdir -p /data && chown reconciler /data
USER reconciler
WORKDIR /home/reconciler
# The data directory (the clone of the followed branch, the store, the audit log) lives on a volume.
VOLUME ["/data"]
EXPOSE 8080
# The daemon writes where it listens (whatever `listen` says) to <data_dir>/daemon.url while it
# serves; /healthz is 503 while its reconcile loop is down, so a dead loop makes the container unhealthy.
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s \
    CMD ["python", "-c", "import pathlib, urllib.request; url = pathlib.Path('/data/daemon.url').read_text().strip(); urllib.request.urlopen(url + '/healthz', timeout=4)"]
# SIGTERM lets in-flight router steps finish (shutdown_grace) before the daemon exits 0.
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/bin/tini", "--", "reconciler"]
# The address comes from the configuration (`listen: 0.0.0.0:8080`), so the health check follows it.
CMD ["serve", "--config", "/config/reconciler.yaml", "--data-dir", "/data"]
