from prefect_agent.domain.secret import MASK, Secret


def test_a_secret_never_renders_its_value():
    secret = Secret("k-123")
    for rendered in (str(secret), repr(secret), f"{secret}", f"{secret!r}", "{}".format(secret)):  # noqa: UP032
        assert "k-123" not in rendered
    assert MASK in str(secret)
    assert secret.reveal() == "k-123"
    assert not Secret("")
