"""Prefect 1.4.1's own ECS and Vertex builders, run in its venv for side-by-side tests.

``SCRIPT`` reads one JSON case on stdin ({"agent": "ecs"|"vertex", "flow_run": {...},
"settings": {...}}) and prints what 1.4.1's agent builds for it: the ECS task definition and
``run_task`` kwargs, or the Vertex custom job. The agents are made without their constructors
(which would need boto3 or Google credentials); only the attributes the builders read are set.
"""

from __future__ import annotations

SCRIPT = r"""
import json, sys, logging
case = json.load(sys.stdin)
from prefect.utilities.graphql import GraphQLResult
flow_run = GraphQLResult(case["flow_run"])
s = case["settings"]

class Client:
    tenant_id = s.get("tenant_id")
    api_key = s.get("api_key")

def base(agent):
    agent.env_vars = s.get("env_vars", {})
    agent.log_to_cloud = s.get("log_to_cloud", True)
    agent.labels = s.get("labels", [])
    agent.client = Client()
    agent.logger = logging.getLogger("side-by-side")
    return agent

if case["agent"] == "ecs":
    from prefect.agent.ecs.agent import ECSAgent
    from prefect.run_configs import ECSRun
    agent = base(ECSAgent.__new__(ECSAgent))
    agent.task_definition = s["task_definition"]
    agent.run_task_kwargs = s.get("run_task_kwargs", {})
    agent.launch_type = s.get("launch_type")
    agent.cluster = s.get("cluster")
    agent.task_role_arn = s.get("task_role_arn")
    agent.execution_role_arn = s.get("execution_role_arn")
    run_config = agent._get_run_config(flow_run, ECSRun)
    if run_config.task_definition_arn is None:
        taskdef = agent.generate_task_definition(flow_run, run_config)
    else:
        taskdef = s.get("described_task_definition", {})
    kwargs = agent.get_run_task_kwargs(flow_run, run_config, taskdef)
    print(json.dumps({"taskdef": taskdef, "kwargs": kwargs}))
else:
    from prefect.agent.vertex.agent import VertexAgent
    agent = base(VertexAgent.__new__(VertexAgent))
    agent.project = s["project"]
    agent.region_name = s["region_name"]
    agent.service_account = s.get("service_account")
    print(json.dumps(agent.generate_task_definition(flow_run)))
"""
