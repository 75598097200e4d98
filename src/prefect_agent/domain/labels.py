"""Which runs an agent may take: Prefect's label rule, and an explanation in words."""

from __future__ import annotations

from collections.abc import Iterable

import attrs


@attrs.frozen
class LabelMatch:
    """The verdict of ``LabelPolicy.explain``: ``matches`` and the reason in one sentence."""

    matches: bool
    reason: str
    missing: tuple[str, ...] = ()

    def __bool__(self) -> bool:
        return self.matches


def _fmt(labels: Iterable[str]) -> str:
    items = sorted(labels)
    return "[" + ", ".join(repr(x) for x in items) + "]" if items else "no labels"


@attrs.frozen
class LabelPolicy:
    """Prefect's rule, as Prefect Server and Cloud apply it.

    A run goes to an agent when every run label is one of the agent's labels, and a run
    without labels goes only to an agent without labels. Matching is exact and case-sensitive.
    """

    @staticmethod
    def matches(run_labels: Iterable[str], agent_labels: Iterable[str]) -> bool:
        run, agent = frozenset(run_labels), frozenset(agent_labels)
        if not run:
            return not agent
        return run <= agent

    @staticmethod
    def explain(run_labels: Iterable[str], agent_labels: Iterable[str]) -> LabelMatch:
        run, agent = frozenset(run_labels), frozenset(agent_labels)
        if not run and not agent:
            return LabelMatch(True, "neither the run nor the agent has labels")
        if not run:
            return LabelMatch(
                False,
                f"the run has no labels and the agent has {_fmt(agent)}; unlabeled runs go "
                "only to agents without labels",
            )
        missing = tuple(sorted(run - agent))
        if missing:
            return LabelMatch(
                False,
                f"the run needs {_fmt(missing)} which the agent lacks "
                f"(run {_fmt(run)}, agent {_fmt(agent)})",
                missing,
            )
        return LabelMatch(True, f"every run label {_fmt(run)} is among the agent's {_fmt(agent)}")
