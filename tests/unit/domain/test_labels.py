from hypothesis import given
from hypothesis import strategies as st

from prefect_agent.domain.labels import LabelPolicy

labels = st.frozensets(st.sampled_from(["dev", "prod", "gpu", "eu", "Dev", "host-1"]), max_size=4)


@given(run=labels, agent=labels)
def test_the_rule_is_subset_and_unlabeled_goes_only_to_unlabeled(run, agent):
    expected = run <= agent if run else not agent
    assert LabelPolicy.matches(run, agent) is expected


@given(run=labels, agent=labels)
def test_explain_agrees_with_matches_and_names_what_is_missing(run, agent):
    verdict = LabelPolicy.explain(run, agent)
    assert verdict.matches is LabelPolicy.matches(run, agent)
    assert set(verdict.missing) == (run - agent)
    for label in verdict.missing:
        assert repr(label) in verdict.reason


def test_matching_is_case_sensitive():
    assert not LabelPolicy.matches(["Dev"], ["dev"])


def test_explain_says_why_an_unlabeled_run_is_refused():
    verdict = LabelPolicy.explain([], ["dev"])
    assert not verdict
    assert "no labels" in verdict.reason and "'dev'" in verdict.reason


def test_explain_lists_the_missing_labels():
    verdict = LabelPolicy.explain(["dev", "gpu"], ["dev", "eu"])
    assert not verdict
    assert verdict.missing == ("gpu",)
    assert "['gpu']" in verdict.reason
