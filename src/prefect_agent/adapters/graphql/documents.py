"""Every GraphQL document the adapter sends, as data: its text and whether a resend is safe.

The "Python service" operations (register_agent, get_runs_in_queue, set_*_states,
write_run_logs, hello) are validated in the tests against Prefect Server's SDL; the Hasura
table queries (tenant, flow_run, flow_run_by_pk, agent_config) against the embedded API's.
"""

from __future__ import annotations

from collections.abc import Sequence

import attrs


@attrs.frozen
class Operation:
    """A document and whether re-sending it after an uncertain failure is harmless."""

    name: str
    text: str
    retry_safe: bool


HELLO = Operation("hello", "query { hello }", retry_safe=True)

TENANT = Operation("tenant", "query { tenant { id } }", retry_safe=True)

AUTH_INFO = Operation("auth_info", "query { auth_info { tenant_id } }", retry_safe=True)

# Safe: the server reuses the agent with the same tenant, name, type, version and labels,
# so a resend returns the same id instead of registering a second agent.
REGISTER_AGENT = Operation(
    "register_agent",
    "mutation($input: register_agent_input!) { register_agent(input: $input) { id } }",
    retry_safe=True,
)

AGENT_CONFIG = Operation(
    "agent_config",
    "query($id: uuid!) { agent_config(where: {id: {_eq: $id}}) { id settings } }",
    retry_safe=True,
)

# Safe: it only reads the queue (and refreshes the agent's last_queried timestamp).
GET_RUNS_IN_QUEUE = Operation(
    "get_runs_in_queue",
    "mutation($input: get_runs_in_queue_input!) {"
    " get_runs_in_queue(input: $input) { flow_run_ids } }",
    retry_safe=True,
)

# The agent-side filter of spec 3.4: runs still in the Scheduled family (Scheduled, Paused,
# Queued, Resume, Retrying), or Running with a task run in that family whose start time is
# past the buffer (a retry the flow process did not pick up itself).
FLOW_RUN_METADATA = Operation(
    "flow_run",
    """query($ids: [uuid!], $family: [String!], $buffer: timestamptz) {
  flow_run(where: {id: {_in: $ids}, _or: [
      {state: {_in: $family}},
      {state: {_eq: "Running"},
       task_runs: {state: {_in: $family}, state_start_time: {_lte: $buffer}}}]}) {
    id version state serialized_state parameters run_config name labels
    flow { id name storage version core_version }
    task_runs(where: {state: {_in: $family}, state_start_time: {_lte: $buffer}}) {
      id version task_id state serialized_state
    }
  }
}""",
    retry_safe=True,
)

RUN_STATUS = Operation(
    "flow_run_by_pk",
    "query($id: uuid!) {"
    " flow_run_by_pk(id: $id) { id state version labels serialized_state run_config"
    " flow { storage } } }",
    retry_safe=True,
)

# After a claim batch had to be resent: which lost claims were in fact ours (applied by the
# first send, whose answer was lost)?
CLAIM_CHECK = Operation(
    "flow_run",
    "query($ids: [uuid!]) { flow_run(where: {id: {_in: $ids}}) { id version serialized_state } }",
    retry_safe=True,
)

# The runs among the agent's watched ones that a user cancelled: one request per check for
# all of them (Prefect 1.4.1's cancel_flow_run sets Cancelling, or Cancelled before the flow
# process runs).
CANCELLED_AMONG = Operation(
    "flow_run",
    "query($ids: [uuid!], $states: [String!]) {"
    " flow_run(where: {id: {_in: $ids}, state: {_in: $states}}) { id state version } }",
    retry_safe=True,
)

# The runs still Submitted by this agent (Prefect Server records the submitting agent from
# the X-PREFECT-AGENT-ID header, and a restarted agent registers under the same id); the
# adapter keeps those whose state carries its claimant, and a restarted agent launches the
# ones no infrastructure holds.
CLAIMED_RUNS = Operation(
    "flow_run",
    """query($agent: uuid) {
  flow_run(where: {state: {_eq: "Submitted"}, agent_id: {_eq: $agent}}) {
    id version state serialized_state parameters run_config name labels
    flow { id name storage version core_version }
  }
}""",
    retry_safe=True,
)

# Safe with a version: the server applies it at most once, a resend is refused as stale.
# Without a version (version=None) it could apply twice, so mark_failed passes the flag.
SET_FLOW_RUN_STATES = Operation(
    "set_flow_run_states",
    "mutation($input: set_flow_run_states_input!) {"
    " set_flow_run_states(input: $input) { states { id status message } } }",
    retry_safe=True,
)

# Not safe: a resend after an uncertain failure would store every line twice.
WRITE_RUN_LOGS = Operation(
    "write_run_logs",
    "mutation($input: write_run_logs_input!) { write_run_logs(input: $input) { success } }",
    retry_safe=False,
)


def flow_claim_alias(index: int) -> str:
    return f"flow{index}"


def task_claim_alias(index: int, task_index: int) -> str:
    return f"task{index}_{task_index}"


def claims(flow_claims: Sequence[int], task_claims: Sequence[tuple[int, int]]) -> Operation:
    """One mutation claiming a batch: one aliased field per flow run and per task run, so each
    claim is applied (or refused as stale) on its own and answered under its alias.

    Safe to resend: every claim carries its version, so a claim that was applied is refused
    as stale on the resend, never applied twice. The claim token in each Submitted state then
    tells the claimant that the run is its own after all (``GraphQLRunSource.claim``).
    """
    params = [f"${flow_claim_alias(i)}: set_flow_run_states_input!" for i in flow_claims]
    params += [f"${task_claim_alias(i, j)}: set_task_run_states_input!" for i, j in task_claims]
    fields = [
        f"{flow_claim_alias(i)}: set_flow_run_states(input: ${flow_claim_alias(i)})"
        " { states { id status message } }"
        for i in flow_claims
    ]
    fields += [
        f"{task_claim_alias(i, j)}: set_task_run_states(input: ${task_claim_alias(i, j)})"
        " { states { id status message } }"
        for i, j in task_claims
    ]
    text = "mutation(" + ", ".join(params) + ") {\n  " + "\n  ".join(fields) + "\n}"
    return Operation("claims", text, retry_safe=True)
