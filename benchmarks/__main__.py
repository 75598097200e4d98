"""``python -m benchmarks``: measure prefect-agent (and Prefect 1.4.1) and print the results.

Each workload runs against a fresh embedded API in this process, with the agent under test in
a process of its own launching ``/bin/true`` for every run, or, in the Python-child burst, a
Python program of about 10 ms of CPU (``benchmarks/python_child.py``). Results are printed as
a table (with the ratio to Prefect 1.4.1 and the issue's target for each figure) and as JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks import kubernetes_scale, workloads
from benchmarks.agents import AgentUnderTest, ours, prefect1
from benchmarks.python_child import child_cpu_ms, write_python_child
from benchmarks.targets import TARGETS

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_PREFECT1_VENV = ROOT / ".venv-prefect1"
PYTHON_BURST = 1000


def _arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="Shorter idle window, fewer samples.")
    parser.add_argument(
        "--prefect1-venv",
        default=os.environ.get("PREFECT1_VENV", str(DEFAULT_PREFECT1_VENV)),
        help="Virtualenv with prefect==1.4.1 (scripts/prefect1-venv.sh makes one).",
    )
    parser.add_argument("--no-prefect1", action="store_true", help="Measure prefect-agent only.")
    parser.add_argument(
        "--only", action="append",
        choices=["cold", "idle", "burst", "pyburst", "due", "memory", "kubernetes"],
        help="Run only these workloads (repeatable).",
    )  # fmt: skip
    parser.add_argument("--json", type=Path, help="Also write the JSON results to this file.")
    return parser.parse_args(argv)


def _alternating(
    agents: list[AgentUnderTest], args: argparse.Namespace, workdir: Path
) -> dict[str, dict[str, Any]]:
    """The short workloads (cold starts, bursts), the agents taking turns; per agent name,
    its results by workload."""
    chosen = set(args.only or ["cold", "burst", "pyburst"])
    results: dict[str, dict[str, Any]] = {agent.name: {} for agent in agents}

    def step(name: str, run: Any) -> None:
        print(f"  {name}, agents taking turns ...", file=sys.stderr, flush=True)
        started = time.monotonic()
        try:
            for agent_name, figures in run().items():
                results[agent_name][name] = figures
        except Exception as exc:  # one failed workload still leaves the others' figures
            for agent in agents:
                results[agent.name][name] = {"error": f"{type(exc).__name__}: {exc}"}
        print(f"    done in {time.monotonic() - started:.0f} s", file=sys.stderr, flush=True)

    if "cold" in chosen:
        step("cold_start", lambda: workloads.cold_starts(
            agents, workdir / "cold", starts=5 if args.quick else 9
        ))  # fmt: skip
    if "burst" in chosen:
        for count in (200, 1000):
            step(f"burst_{count}", lambda count=count: workloads.alternating(
                agents, 1 if args.quick else 3,
                lambda agent, repeat, count=count: workloads.burst(
                    agent, workdir / agent.name.replace(" ", "-") / f"r{repeat}",
                    count=count, deadline=300.0,
                ),
            ))  # fmt: skip
    if "pyburst" in chosen:
        child = write_python_child(workdir / "child")
        child_ms = child_cpu_ms(child)
        print(f"    the Python child: {child_ms:.1f} ms CPU a run", file=sys.stderr, flush=True)

        def python_burst() -> dict[str, dict[str, float]]:
            figures = workloads.alternating(
                agents, 1 if args.quick else 3,
                lambda agent, repeat: workloads.burst(
                    agent, workdir / agent.name.replace(" ", "-") / f"py{repeat}",
                    count=PYTHON_BURST, deadline=600.0, child=str(child),
                ),
            )  # fmt: skip
            return {name: {**f, "child_cpu_ms": child_ms} for name, f in figures.items()}

        step(f"python_burst_{PYTHON_BURST}", python_burst)
    return results


def _measure(agent: AgentUnderTest, args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    """The long workloads (idle, due), one agent after the other."""
    chosen = set(args.only or ["cold", "idle", "burst", "due", "memory"]) - {"cold", "burst"}
    results: dict[str, Any] = {}

    def step(name: str, run: Any) -> None:
        print(f"  {agent.name}: {name} ...", file=sys.stderr, flush=True)
        started = time.monotonic()
        try:
            results[name] = run()
        except Exception as exc:  # one failed workload still leaves the others' figures
            results[name] = {"error": f"{type(exc).__name__}: {exc}"}
        print(f"    done in {time.monotonic() - started:.0f} s", file=sys.stderr, flush=True)

    base = workdir / agent.name.replace(" ", "-")
    if "idle" in chosen:
        step("idle", lambda: workloads.idle_and_pickup(
            agent, base, idle_seconds=30.0 if args.quick else 60.0,
            samples=6 if args.quick else 12, seed=1,
        ))  # fmt: skip
    if "due" in chosen:
        step("due_1000", lambda: workloads.due_at_once(
            agent, base, count=1000, lead_seconds=20.0, deadline=300.0,
        ))  # fmt: skip
    if "memory" in chosen and not agent.prefect1:
        # Ours only: at Prefect 1.4.1's pace 100,000 runs take most of an hour; the target
        # is the agent's own growth, not a ratio.
        total, wave = (30_000, 1_000) if args.quick else (100_000, 2_000)
        step("long_run", lambda: workloads.long_run(
            agent, base, total=total, wave=wave, reference=10_000, deadline=600.0,
        ))  # fmt: skip
    return results


def _flatten(results: dict[str, Any]) -> dict[str, float]:
    flat: dict[str, float] = {}
    for workload, figures in results.items():
        for name, value in figures.items():
            if isinstance(value, (int, float)):
                flat[f"{workload}.{name}"] = float(value)
    return flat


def _table(ours_flat: dict[str, float], theirs_flat: dict[str, float] | None) -> str:
    header = ["metric", "prefect-agent", "prefect 1.4.1", "ratio", "target", "met"]
    rows = [header]
    for metric, value in ours_flat.items():
        theirs = theirs_flat.get(metric) if theirs_flat else None
        ratio = value / theirs if theirs else None
        target = TARGETS.get(metric)
        met = target.met(value, theirs) if target else None
        rows.append([
            metric,
            f"{value:.3f}",
            "-" if theirs is None else f"{theirs:.3f}",
            "-" if ratio is None else f"{ratio:.3f}",
            target.describe() if target else "",
            "" if met is None else ("yes" if met else "NO"),
        ])  # fmt: skip
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    lines = [
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True))
        for row in rows
    ]
    lines.insert(1, "  ".join("-" * width for width in widths))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = _arguments(argv)
    theirs_agent, why_not = (
        (None, "--no-prefect1 given") if args.no_prefect1 else prefect1(args.prefect1_venv)
    )
    with tempfile.TemporaryDirectory(prefix="prefect-agent-bench-") as scratch:
        workdir = Path(scratch)
        agents = [ours()] + ([theirs_agent] if theirs_agent is not None else [])
        short = _alternating(agents, args, workdir)
        print("Measuring prefect-agent", file=sys.stderr)
        mine = {**short[agents[0].name], **_measure(agents[0], args, workdir)}
        theirs: dict[str, Any] | None = None
        if theirs_agent is not None:
            print("Measuring Prefect 1.4.1", file=sys.stderr)
            theirs = {**short[theirs_agent.name], **_measure(theirs_agent, args, workdir)}
        else:
            print(f"Prefect 1.4.1 not measured: {why_not}", file=sys.stderr)
    if "kubernetes" in set(args.only or ["kubernetes"]):
        # Against the emulator; Prefect 1.4.1's side is its modelled pattern (no venv needed).
        print("Measuring Kubernetes at scale", file=sys.stderr)
        k8s = kubernetes_scale.measure(quick=args.quick)
        mine.update(k8s["ours"])
        theirs = {**(theirs or {}), **k8s["theirs"]}
    ours_flat = _flatten(mine)
    theirs_flat = _flatten(theirs) if theirs is not None else None
    report = {
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "system": platform.platform(),
        },
        "quick": args.quick,
        "prefect-agent": mine,
        "prefect 1.4.1": theirs if theirs is not None else {"skipped": why_not},
        "ratios": {
            metric: value / theirs_flat[metric]
            for metric, value in ours_flat.items()
            if theirs_flat and theirs_flat.get(metric)
        },
    }
    print(_table(ours_flat, theirs_flat))
    print()
    text = json.dumps(report, indent=2, sort_keys=True)
    print(text)
    if args.json:
        args.json.write_text(text + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
