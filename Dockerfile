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
# git: the daemon and `--rev` read fleet repositories through the git CLI. A fleet repository
# mounted from the host belongs to another uid: safe.directory lets git read it anyway.
RUN apt-get update \
 && apt-get install --yes --no-install-recommends git ca-certificates \
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
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8080/healthz', timeout=4)"]
# SIGTERM lets in-flight router steps finish (shutdown_grace) before the daemon exits 0.
STOPSIGNAL SIGTERM
ENTRYPOINT ["reconciler"]
CMD ["serve", "--config", "/config/reconciler.yaml", "--data-dir", "/data", "--listen", "0.0.0.0:8080"]
