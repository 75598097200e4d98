"""Run configs, storage and agent settings to hand to Prefect 1.4.1 (as constructor arguments;
Prefect itself serializes them), plus hypothesis strategies spreading their fields."""

from __future__ import annotations

import os
import shlex
import uuid
from typing import Any

from hypothesis import strategies as st

from tests.prefect1.venv import Prefect1, ask

FLOW_ID = "f0000000-0000-4000-8000-000000000001"
IMAGE = "local/busybox:latest"
"""An image already on the test Docker engine (nothing can be pulled here)."""

STORAGE = {"cls": "Module", "kwargs": {"module": "tests.prefect1.fixture_flows"}}

RUNS_ON = {
    "UniversalRun": ("local", "docker", "kubernetes"),
    "LocalRun": ("local",),
    "DockerRun": ("docker",),
    "KubernetesRun": ("kubernetes",),
}
"""Which agents launch each run config type (ECSRun and VertexRun: none of these)."""

TEMPLATE = {
    "apiVersion": "batch/v1",
    "kind": "Job",
    "metadata": {"name": "custom", "labels": {"team": "data"}},
    "spec": {
        "template": {
            "metadata": {"labels": {"team": "data"}},
            "spec": {
                "serviceAccountName": "from-template",
                "imagePullSecrets": [{"name": "template-secret"}],
                "containers": [
                    {
                        "name": "flow",
                        "image": "template/image:1",
                        "env": [
                            {"name": "TEMPLATE_ONLY", "value": "t"},
                            {"name": "RC_VAR", "value": "template loses"},
                        ],
                    }
                ],
            },
        }
    },
}

SIDECAR_FIRST = {
    "apiVersion": "batch/v1",
    "kind": "Job",
    "spec": {
        "template": {
            "spec": {
                "containers": [
                    {"name": "main", "image": "template/main:1"},
                    {"name": "sidecar", "image": "template/sidecar:1"},
                ]
            }
        }
    },
}
"""No container named ``flow``: Prefect 1.4.1 fills the first one."""

ENV = {"RC_VAR": "from run config", "PREFECT__CLOUD__SEND_FLOW_RUN_LOGS": "false", "GONE": None}

FULL: dict[str, dict[str, Any]] = {
    "UniversalRun": {"env": ENV, "labels": ["b", "a"]},
    "LocalRun": {"env": ENV, "labels": ["x"], "working_dir": os.path.realpath("/tmp")},
    "DockerRun": {
        "env": ENV,
        "labels": ["x"],
        "image": IMAGE,
        "ports": [8080, 9090],
        "host_config": {"mem_limit": "64m", "cpu_shares": 512, "shm_size": "32m"},
    },
    "KubernetesRun": {
        "env": ENV,
        "labels": ["x"],
        "job_template": TEMPLATE,
        "image": IMAGE,
        "cpu_limit": "500m",
        "cpu_request": "100m",
        "memory_limit": "128Mi",
        "memory_request": "64Mi",
        "service_account_name": "runner",
        "image_pull_secrets": ["regcred", "other"],
        "image_pull_policy": "IfNotPresent",
    },
    "ECSRun": {
        "env": ENV,
        "labels": ["x"],
        "task_definition": {"containerDefinitions": [{"name": "flow"}]},
        "image": IMAGE,
        "cpu": "256",
        "memory": "512",
        "task_role_arn": "arn:aws:iam::1:role/task",
        "execution_role_arn": "arn:aws:iam::1:role/exec",
        "run_task_kwargs": {"cluster": "c"},
    },
    "VertexRun": {
        "env": ENV,
        "labels": ["x"],
        "image": IMAGE,
        "machine_type": "e2-small",
        "scheduling": {"timeout": "60s"},
        "service_account": "sa@p.iam.gserviceaccount.com",
        "network": "projects/1/global/networks/n",
        "worker_pool_specs": [{"replica_count": 1}],
    },
}
"""Every field of every run config class set."""

AGENT: dict[str, dict[str, Any]] = {
    "local": {
        "labels": ["dev", "b"],
        "env_vars": {"AGENT_VAR": "a", "GONE": "agent", "PREFECT__CLOUD__TENANT_ID": "from --env"},
    },
    "docker": {"labels": ["dev"], "env_vars": {"AGENT_VAR": "a"}, "volumes": ["/srv/data:/data"]},
    "kubernetes": {
        "labels": ["dev"],
        "env_vars": {"AGENT_VAR": "a"},
        "service_account_name": "agent-sa",
        "image_pull_secrets": ["agent-secret"],
    },
}

ENVIRON = {"PATH": "/usr/bin:/bin", "HOME": "/root", "PYTHONPATH": "/opt/lib"}
"""The local agent's own environment on both sides (with an inherited key to be removed)."""


def flow_run(run_config: dict[str, Any] | None, index: int = 0, **fields: Any) -> dict[str, Any]:
    """A ``flow_run`` request: Prefect 1.4.1 registers a flow and returns the run's row."""
    return {
        "id": f"00000000-0000-4000-8000-{index:012d}",
        "name": f"fixture-run-{index}",
        "flow_id": FLOW_ID,
        "storage": fields.pop("storage", STORAGE),
        "run_config": run_config,
        **fields,
    }


def launch(
    kind: str, run_config: dict[str, Any] | None, index: int = 0, **agent: Any
) -> dict[str, Any]:
    """A request for what Prefect 1.4.1's ``kind`` agent launches for such a run."""
    return {
        "op": kind,
        "agent": {**AGENT[kind], **agent},
        "flow_run": flow_run(run_config, index),
        "environ": {**ENVIRON, "PREFECT__CLOUD__API_KEY": "inherited"},
        "cwd": os.getcwd(),
    }


# -- hypothesis: field combinations (Prefect 1.4.1 serializes whatever they produce) ----------

_text = st.text(alphabet="abcXYZ019 _-.:/=", max_size=6)
_name = st.from_regex(r"[A-Z][A-Z0-9_]{0,6}", fullmatch=True)
envs = st.none() | st.dictionaries(_name, st.none() | _text, max_size=3)
labels = st.lists(st.sampled_from(["a", "b", "dev", "x-y"]), max_size=3)
# Difference (docs/local.md): an agent's repeated label is kept once, 1.4.1 kept repeats.
agent_labels = st.lists(st.sampled_from(["a", "b", "dev", "x-y"]), max_size=3, unique=True)


def _kwargs(**fields: st.SearchStrategy[Any]) -> st.SearchStrategy[dict[str, Any]]:
    """Each field either left out (Prefect's default) or drawn."""
    return st.fixed_dictionaries({}, optional=fields)


local_runs = _kwargs(env=envs, labels=labels, working_dir=st.sampled_from([None, "/tmp", "/"]))
docker_runs = _kwargs(
    env=envs,
    labels=labels,
    image=st.sampled_from([None, IMAGE, "busybox", "ghcr.io/org/img:1"]),
    ports=st.none() | st.lists(st.integers(1, 65535), max_size=3),
    host_config=st.none()
    | st.fixed_dictionaries(
        {},
        optional={
            "mem_limit": st.sampled_from(["64m", "1g"]),
            "cpu_shares": st.integers(2, 1024),
            "privileged": st.booleans(),
            "shm_size": st.sampled_from(["32m"]),
            "environment": st.none(),
        },
    ),
)
kubernetes_runs = _kwargs(
    env=envs,
    labels=labels,
    job_template=st.sampled_from([None, TEMPLATE, SIDECAR_FIRST]),
    image=st.sampled_from([None, IMAGE, "ghcr.io/org/img:1"]),
    cpu_request=st.sampled_from([None, "100m", "0.25"]),
    cpu_limit=st.sampled_from([None, "500m", "1"]),
    memory_request=st.sampled_from([None, "64Mi"]),
    memory_limit=st.sampled_from([None, "128Mi", "1Gi"]),
    service_account_name=st.sampled_from([None, "runner"]),
    image_pull_secrets=st.sampled_from([None, [], ["s1"], ["s1", "s2"]]),
    image_pull_policy=st.sampled_from([None, "Always", "IfNotPresent", "Never"]),
)
universal_runs = _kwargs(env=envs, labels=labels)

agents = {
    "local": _kwargs(
        labels=agent_labels,
        env_vars=st.dictionaries(_name, _text, max_size=2),
        no_cloud_logs=st.booleans(),
        api_key=st.sampled_from([None, "agent-key"]),
        import_paths=st.lists(st.sampled_from(["/opt/a", "/opt/b"]), max_size=2),
    ),
    "docker": _kwargs(
        labels=agent_labels,
        env_vars=st.dictionaries(_name, _text, max_size=2),
        no_cloud_logs=st.booleans(),
        api_key=st.sampled_from([None, "agent-key"]),
        networks=st.sampled_from([[], ["prefect-server"]]),
        volumes=st.sampled_from([[], ["/srv/data:/data"], ["/srv/a:/a:ro", "cache:/cache"]]),
    ),
    "kubernetes": _kwargs(
        labels=agent_labels,
        env_vars=st.dictionaries(_name, _text, max_size=2),
        no_cloud_logs=st.booleans(),
        api_key=st.sampled_from([None, "agent-key"]),
        service_account_name=st.sampled_from([None, "agent-sa"]),
        image_pull_secrets=st.sampled_from([None, ["agent-secret"]]),
    ),
}

run_configs = {
    "local": st.sampled_from(["LocalRun", "UniversalRun", None]),
    "docker": st.sampled_from(["DockerRun", "UniversalRun", None]),
    "kubernetes": st.sampled_from(["KubernetesRun", "UniversalRun", None]),
}
KWARGS = {
    "LocalRun": local_runs,
    "DockerRun": docker_runs,
    "KubernetesRun": kubernetes_runs,
    "UniversalRun": universal_runs,
}


@st.composite
def launches(draw: st.DrawFn, kind: str) -> dict[str, Any]:
    """One request: an agent of ``kind`` with drawn settings and a run with a drawn config."""
    cls = draw(run_configs[kind])
    config = None if cls is None else {"cls": cls, "kwargs": draw(KWARGS[cls])}
    request = launch(kind, config)
    request["agent"] = {**{"labels": []}, **draw(agents[kind])}
    return request


# -- end to end: defaults and every field of the run configs an agent type launches ------------


def e2e_rows(prefect1: Prefect1, kind: str, **flow: Any) -> list[tuple[str, dict[str, Any]]]:
    """(name, row) for the default and fully populated run configs ``kind`` runs (and no run
    config), as Prefect 1.4.1 registers them; each row gets a fresh run id."""
    requests = []
    for cls, kinds in RUNS_ON.items():
        if kind in kinds:
            for variant, kwargs in (("default", {}), ("full", FULL[cls])):
                config = {"cls": cls, "kwargs": kwargs}
                requests.append((f"{cls}-{variant}", flow_run(config, len(requests))))
    requests.append(("no-run-config", flow_run(None, len(requests))))
    answers = ask(prefect1, [{"op": "flow_run", **request} for _, request in requests])
    rows = []
    for (name, _), answer in zip(requests, answers, strict=True):
        row = answer["value"]
        row["id"] = str(uuid.uuid4())  # runs on shared engines must not collide
        row["flow"].update(flow)
        rows.append((name, row))
    return rows


def env_check(row: dict[str, Any]) -> str:
    """A POSIX shell script that exits 0 only if the run's environment is what its row asks:
    the run id, the run config's variables, and no variable the run config set to null."""
    config = row["run_config"] or {}
    tests = [f'test "$PREFECT__CONTEXT__FLOW_RUN_ID" = {shlex.quote(row["id"])}']
    for name, value in (config.get("env") or {}).items():
        if value is None:
            tests.append(f'test -z "${{{name}+set}}"')
        else:
            tests.append(f'test "${name}" = {shlex.quote(value)}')
    return " && ".join(tests)
