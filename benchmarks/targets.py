"""The issue's performance targets: ratios to Prefect 1.4.1 measured in the same run."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Target:
    metric: str
    bound: float
    higher_is_better: bool = False
    absolute: bool = False  # compared with the figure itself, not with a ratio

    def describe(self) -> str:
        sign = ">=" if self.higher_is_better else "<="
        unit = "" if self.absolute else "x"
        return f"{sign} {self.bound:g}{unit}"

    def met(self, ours: float, theirs: float | None) -> bool | None:
        if self.absolute:
            value: float | None = ours
        else:
            value = ours / theirs if theirs else None
        if value is None:
            return None
        return value >= self.bound if self.higher_is_better else value <= self.bound


TARGETS = {
    target.metric: target
    for target in (
        Target("cold_start.median_s", 0.5),
        Target("idle.idle_rss_mib", 0.5),
        Target("idle.idle_requests_per_min", 1.0),
        # "No slower": both agents poll on the same ladder, so these differ by timer jitter
        # only; 5% is the noise band.
        Target("idle.pickup_p50_s", 1.05),
        Target("idle.pickup_p95_s", 1.05),
        Target("burst_200.runs_per_s", 5.0, higher_is_better=True),
        Target("burst_200.cpu_ms_per_run", 0.3),
        Target("burst_200.requests_per_run", 0.25),
        Target("burst_1000.runs_per_s", 5.0, higher_is_better=True),
        Target("burst_1000.cpu_ms_per_run", 0.3),
        Target("burst_1000.requests_per_run", 0.25),
        Target("due_1000.last_launch_after_due_s", 2.0, absolute=True),
        # Issue 18: a Python child of ~10 ms CPU per run, 1000 runs queued at once. The busy
        # share is the whole machine's (/proc/stat): met only on an otherwise quiet machine
        # says something (see background_busy beside it).
        Target("python_burst_1000.all_launched_s", 0.6),
        Target("python_burst_1000.machine_busy", 0.9, higher_is_better=True, absolute=True),
        # Issue 18: resident memory after 100,000 runs (30,000 with --quick) within 10% of
        # that after the first 10,000.
        Target("long_run.rss_growth", 1.1, absolute=True),
        # Kubernetes at scale (benchmarks/kubernetes_scale.py, 50 ms per API request; Prefect
        # 1.4.1's figures are its modelled pattern).
        Target("k8s_burst_1000.jobs_per_s", 5.0, higher_is_better=True),
        Target("k8s_burst_1000.requests_per_job", 1.0),
        Target("k8s_running_5000.requests_per_min", 0.1),
        Target("k8s_running_5000.kib_per_min", 0.5),
        Target("k8s_running_5000.rss_mib", 100.0, absolute=True),
    )
}
