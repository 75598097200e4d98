"""The Markdown table of every configuration key, for docs/configuration.md (run as a module)."""

from __future__ import annotations

from typing import Any

from prefect_agent.adapters.config.keys import NO_DEFAULT, ConfigKey, Section, all_keys

_APPLIES = {
    Section.AGENT: "all",
    Section.OPERATIONS: "all",
    Section.AUXILIARY: "all",
    Section.LOCAL: "local",
    Section.DOCKER: "docker",
    Section.KUBERNETES: "kubernetes",
    Section.ECS: "ecs",
    Section.VERTEX: "vertex",
}


def _flag(key: ConfigKey) -> str:
    flag = key.flag
    if flag is None:
        return "—"
    names = f"{flag.short}, {flag.long}" if flag.short else flag.long
    if flag.negatable:
        names += f" / --no-{flag.long[2:]}"
    suffix = " (repeatable)" if flag.multiple else " (sets false)" if flag.inverted else ""
    return f"`{names}`{suffix}"


def _default(value: Any) -> str:
    if value is NO_DEFAULT or value is None:
        return "—"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (tuple, list, dict)) and not value:
        return "empty"
    return f"`{value}`"


def markdown() -> str:
    lines = [
        "| Key | Agents | Environment variable | Flag | Default | Meaning |",
        "|---|---|---|---|---|---|",
    ]
    for key in all_keys():
        env = ", ".join(f"`{name}`" for name in key.env)
        lines.append(
            f"| `{key.key}` | {_APPLIES[key.section]} | {env} | {_flag(key)} | "
            f"{_default(key.default)} | {key.help} |"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    print(markdown())
