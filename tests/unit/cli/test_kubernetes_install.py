from __future__ import annotations

import pytest
import yaml
from click.testing import CliRunner

from prefect_agent import __version__
from prefect_agent.cli.main import prefect


def run(*args: str, env: dict[str, str] | None = None):  # type: ignore[no-untyped-def]
    return CliRunner().invoke(prefect, ["agent", "kubernetes", "install", *args], env=env)


def test_prints_applyable_yaml() -> None:
    result = run("-n", "flows", "-l", "dev", "--rbac")
    assert result.exit_code == 0, result.output
    kinds = [doc["kind"] for doc in yaml.safe_load_all(result.output)]
    assert kinds == ["ServiceAccount", "Role", "RoleBinding", "Deployment"]
    deployment = list(yaml.safe_load_all(result.output))[-1]
    image = deployment["spec"]["template"]["spec"]["containers"][0]["image"]
    assert image == f"prefect-agent:{__version__}"


def test_every_spec_flag_is_accepted() -> None:
    result = run(
        "-k",
        "pcu_k",
        "--tenant-id",
        "5e3a0a3c-4bd0-4a40-9a8c-7e1a7f5e2f60",
        "-l",
        "x",
        "-e",
        "A=1",
        "--agent-config-id",
        "cfg",
        "-a",
        "https://api.example.com",
        "-n",
        "ns",
        "-i",
        "regcred",
        "--rbac",
        "--latest",
        "--mem-request",
        "100Mi",
        "--mem-limit",
        "1Gi",
        "--cpu-request",
        "100m",
        "--cpu-limit",
        "1",
        "--image-pull-policy",
        "IfNotPresent",
        "--service-account-name",
        "runner",
        "-b",
        "server",
    )
    assert result.exit_code == 0, result.output
    docs = {doc["kind"]: doc for doc in yaml.safe_load_all(result.output)}
    assert docs["Secret"]["stringData"]["api-key"] == "pcu_k"
    container = docs["Deployment"]["spec"]["template"]["spec"]["containers"][0]
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert env["PREFECT__BACKEND"] == "server"
    assert env["PREFECT__CLOUD__API"] == "https://api.example.com"


def test_the_key_can_come_from_the_environment() -> None:
    result = run(env={"PREFECT__CLOUD__API_KEY": "pcu_env"})
    assert result.exit_code == 0
    assert "pcu_env" in result.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ("--mem-limit", "lots"),
            "Invalid value for '--mem-limit': 'lots' is not a Kubernetes quantity",
        ),
        (("--tenant-id", "nope"), "Invalid value for '--tenant-id': 'nope' is not a UUID"),
        (
            ("-n", "Bad_NS"),
            "Invalid value for '-n' / '--namespace': 'Bad_NS' is not a valid namespace",
        ),
        (("-e", "NOEQUALS"), "Invalid value for '-e' / '--env': 'NOEQUALS' must be KEY=VALUE"),
        (("-a", "api.prefect.io"), "must be an http:// or https:// URL"),
        (("--image-pull-policy", "Sometimes"), "'Sometimes' is not one of"),
    ],
)
def test_bad_flags_are_named(args: tuple[str, ...], message: str) -> None:
    result = run(*args)
    assert result.exit_code == 2
    assert message in result.output


RESOURCE_FLAGS = {
    "--mem-request": ["64Mi", "1Gi", "4Gi"],
    "--mem-limit": ["100Mi", "2Gi"],
    "--cpu-request": ["50m", "2"],
    "--cpu-limit": ["10m", "1"],
}


@pytest.mark.parametrize("mem_request", [None, *RESOURCE_FLAGS["--mem-request"]])
@pytest.mark.parametrize("mem_limit", [None, *RESOURCE_FLAGS["--mem-limit"]])
@pytest.mark.parametrize("cpu", [(None, None), ("50m", None), (None, "10m"), ("2", "1")])
def test_no_combination_of_resource_flags_puts_a_request_above_its_limit(
    mem_request: str | None, mem_limit: str | None, cpu: tuple[str | None, str | None]
) -> None:
    from prefect_agent.adapters.kubernetes.job_checks import quantity_value

    given = {"--mem-request": mem_request, "--mem-limit": mem_limit}
    given |= {"--cpu-request": cpu[0], "--cpu-limit": cpu[1]}
    args = [arg for flag, value in given.items() if value for arg in (flag, value)]
    result = run(*args)
    crossed = (mem_request, mem_limit) in (("4Gi", "2Gi"), ("1Gi", "100Mi"), ("4Gi", "100Mi"))
    if crossed or cpu == ("2", "1"):
        # Both given and crossed: refused, naming the flags, instead of an unschedulable pod.
        assert result.exit_code == 2 and "may not exceed --mem-limit/--cpu-limit" in result.output
        return
    assert result.exit_code == 0, result.output
    deployment = list(yaml.safe_load_all(result.output))[-1]
    resources = deployment["spec"]["template"]["spec"]["containers"][0]["resources"]
    for resource, limit in resources["limits"].items():
        request = resources["requests"][resource]
        assert quantity_value(request) <= quantity_value(limit), resources
    for flag, value in given.items():
        if value:
            kind = "requests" if flag.endswith("request") else "limits"
            resource = "memory" if flag.startswith("--mem") else "cpu"
            assert resources[kind][resource] == value
