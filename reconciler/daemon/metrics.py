"""Prometheus metrics of the daemon (`GET /metrics`, prometheus-client's text format).

Where it sits: `service` makes one `Metrics`; the reconciler tells it about every cycle
(`cycle_finished`) and the driver about every request (`request`); the gauges that describe the
current state (revision, degraded, devices by status, drift) are read from `DaemonStatus` when
scraped, so they are never stale.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, InfoMetricFamily, Metric
from prometheus_client.registry import Collector

from reconciler.core.results import DeviceResult

from .status import Cycle, DaemonStatus

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
        yield GaugeMetricFamily("reconciler_cycles", "reconcile cycles since the daemon started",
                                value=float(status.cycles))


class Metrics:
    """The daemon's registry (its own, not the process-global one: tests run several daemons)."""

    def __init__(self, status: Callable[[], DaemonStatus]) -> None:
        self.registry = CollectorRegistry()
        self.registry.register(_StatusCollector(status))
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
        for result in results:
            self.outcomes.labels(result.outcome.value).inc()

    def request(self, method: str, answer: str, seconds: float) -> None:
        self.requests.labels(method, answer).observe(seconds)

    def render(self) -> bytes:
        return generate_latest(self.registry)
