import pytest

from prefect_agent.domain.errors import IncompatibleRunConfig, LaunchError
from prefect_agent.domain.run_config import (
    DockerRun,
    KubernetesRun,
    LocalRun,
    UniversalRun,
    select_run_config,
)


def test_no_run_config_means_the_platform_defaults():
    assert select_run_config(None, LocalRun, run_id="r") == LocalRun()


def test_a_universal_run_converts_keeping_env_and_labels():
    chosen = select_run_config(
        UniversalRun(env={"A": "1"}, labels=["b", "a"]), DockerRun, run_id="r"
    )
    assert isinstance(chosen, DockerRun)
    assert dict(chosen.env) == {"A": "1"}
    assert chosen.labels == ("a", "b")
    assert chosen.image is None


def test_the_matching_type_is_used_as_is():
    config = KubernetesRun(image="img", cpu_request="0.5")
    assert select_run_config(config, KubernetesRun, run_id="r") is config


def test_an_incompatible_type_is_a_typed_launch_error_with_a_clear_reason():
    with pytest.raises(IncompatibleRunConfig) as caught:
        select_run_config(DockerRun(image="x"), LocalRun, run_id="run-7")
    assert isinstance(caught.value, LaunchError)
    assert "run-7" in caught.value.reason
    assert "DockerRun" in caught.value.reason and "LocalRun" in caught.value.reason


def test_kubernetes_run_rejects_both_template_forms_and_bad_pull_policies():
    with pytest.raises(ValueError, match="both"):
        KubernetesRun(job_template={"kind": "Job"}, job_template_path="/t.yaml")
    with pytest.raises(ValueError, match="image_pull_policy"):
        KubernetesRun(image_pull_policy="Sometimes")


def test_run_config_containers_are_read_only():
    config = DockerRun(host_config={"mem_limit": "1g"}, env={"A": "1"})
    with pytest.raises(TypeError):
        config.env["B"] = "2"  # type: ignore[index]
