# reconciler: slim, non-root, `reconciler` as the entrypoint.
# Build:  docker build -t reconciler .
# Run:    docker run --rm -v "$PWD:/fleet" reconciler validate /fleet
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
USER reconciler
WORKDIR /home/reconciler
# The data directory (store, caches) lives on a volume.
VOLUME ["/data"]
ENTRYPOINT ["reconciler"]
CMD ["--help"]
