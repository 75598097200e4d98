"""A command given as one line of text or as a list of words: the one rule for reading it."""

from __future__ import annotations


def split_command(text: str) -> tuple[str, ...]:
    """The words of a shell-style command line (quotes group, nothing is expanded);
    ``ValueError`` naming the command when its quotes do not close."""
    import shlex  # only agents given a command line need it: not on every start-up path

    try:
        return tuple(shlex.split(text))
    except ValueError as err:
        raise ValueError(f"cannot split the command {text!r}: {err}") from None


def command_words(value: object, name: str = "flow_run_command") -> tuple[str, ...] | None:
    """A command from a line of text or a list of words (``None`` stays unset); ``name`` is
    the setting named by the error for anything else."""
    if value is None:
        return None
    if isinstance(value, str):
        return split_command(value)
    if isinstance(value, (list, tuple)):
        return tuple(str(part) for part in value)
    raise ValueError(f"{name} must be a string or a list of strings, not {value!r}")
