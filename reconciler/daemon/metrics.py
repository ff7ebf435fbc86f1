"""Prometheus metrics of the daemon (`GET /metrics`, prometheus-client's text format).

Where it sits: `service` makes one `Metrics`; the reconciler tells it about every cycle
(`cycle_finished`) and the driver about every request (`request`); what describes the current
state (revision, degraded, devices by status, drift, the loop and its restarts, the HTTP
connections) is read from `DaemonStatus`, `supervision.LoopHealth` and `listening.Connections`
when scraped, so it is never stale.
Counters end in `_total`; no `_created` series (they double the series for no use here).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, disable_created_metrics, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, InfoMetricFamily, Metric
from prometheus_client.registry import Collector

from reconciler.core.results import DeviceResult
from reconciler.shell import clock

from .listening import CLOSE_REASONS, Connections
from .status import Cycle, DaemonStatus
from .supervision import LoopHealth

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


class _StatusCollector(Collector):
    def __init__(self, status: Callable[[], DaemonStatus]) -> None:
        self._status = status

    def collect(self) -> Iterator[Metric]:
        status = self._status()
        info = InfoMetricFamily("reconciler_revision", "the branch head, the last good and the applied revision")
        info.add_metric([], {"desired": status.desired or "", "last_good": status.last_good or "",
                             "applied": status.applied or "", "source": status.source})
        yield info
        yield GaugeMetricFamily("reconciler_degraded", "1 while the daemon is degraded (bad revision, fetch failing)",
                                value=1.0 if status.degraded else 0.0)
        devices = GaugeMetricFamily("reconciler_devices", "devices by their status after the last cycle",
                                    labels=["status"])
        for name, count in status.counts.items():
            devices.add_metric([name], float(count))
        yield devices
        yield GaugeMetricFamily("reconciler_drifted_devices", "devices whose live state drifted from the desired",
                                value=float(len(status.drift)))
        yield CounterMetricFamily("reconciler_cycles", "reconcile cycles since the daemon started",
                                  value=float(status.cycles))


class _ProcessCollector(Collector):
    """The reconcile loop and the HTTP connections, as they are when scraped."""

    def __init__(self, health: LoopHealth, connections: Callable[[], Connections | None]) -> None:
        self._health = health
        self._connections = connections

    def collect(self) -> Iterator[Metric]:
        yield GaugeMetricFamily("reconciler_loop_up", "1 while the reconcile loop runs (0: failed, restarting)",
                                value=1.0 if self._health.running else 0.0)
        yield CounterMetricFamily("reconciler_loop_restarts", "restarts of the reconcile loop after it failed",
                                  value=float(self._health.restarts))
        connections = self._connections()
        if connections is None:
            return
        yield GaugeMetricFamily("reconciler_http_connections", "open HTTP connections",
                                value=float(connections.open))
        closed = CounterMetricFamily("reconciler_http_connections_closed", "HTTP connections the daemon closed: "
                                     "refused (every slot busy), evicted (idle, at the cap), header-timeout, "
                                     "idle-timeout", labels=["reason"])
        for reason in CLOSE_REASONS:
            closed.add_metric([reason], float(connections.closed[reason]))
        yield closed


class Metrics:
    """The daemon's registry (its own, not the process-global one: tests run several daemons)."""

    def __init__(self, status: Callable[[], DaemonStatus], health: LoopHealth | None = None) -> None:
        # process-wide; this is the only registry the daemon serves
        disable_created_metrics()  # type: ignore[no-untyped-call]
        self.health = health or LoopHealth()
        self.connections: Connections | None = None  # set once the daemon listens
        self.registry = CollectorRegistry()
        self.registry.register(_StatusCollector(status))
        self.registry.register(_ProcessCollector(self.health, lambda: self.connections))
        self.last_success = Gauge("reconciler_last_successful_reconcile_timestamp_seconds",
                                  "when the last reconcile cycle ran to its end (Unix time; 0: none yet)",
                                  registry=self.registry)
        self.outcomes = Counter("reconciler_apply_outcomes", "devices applied, by outcome", ["outcome"],
                                registry=self.registry)
        self.duration = Histogram("reconciler_reconcile_duration_seconds", "observe + plan + apply, per cycle",
                                  buckets=(0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600),
                                  registry=self.registry)
        self.requests = Histogram("reconciler_driver_request_duration_seconds", "router API requests",
                                  ["method", "answer"], registry=self.registry,
                                  buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60))

    def cycle_finished(self, cycle: Cycle, results: Sequence[DeviceResult]) -> None:
        self.duration.observe(cycle.seconds)
        if not cycle.interrupted:
            self.last_success.set(clock.now().timestamp())
        for result in results:
            self.outcomes.labels(result.outcome.value).inc()

    def request(self, method: str, answer: str, seconds: float) -> None:
        self.requests.labels(method, answer).observe(seconds)

    def render(self) -> bytes:
        return generate_latest(self.registry)
