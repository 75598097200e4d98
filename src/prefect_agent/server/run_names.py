"""Names for flow runs created without one: two words, as Prefect Server names its runs."""

from __future__ import annotations

import secrets

_ADJECTIVES = (
    "amber", "bold", "brisk", "calm", "clever", "crimson", "daring", "eager", "gentle",
    "golden", "happy", "hidden", "humble", "jolly", "keen", "lively", "lucky", "mellow",
    "misty", "nimble", "olive", "patient", "quiet", "rapid", "rustic", "silver", "steady",
    "sunny", "swift", "tidy", "vivid", "witty",
)  # fmt: skip
_ANIMALS = (
    "badger", "beaver", "bison", "crane", "dingo", "eagle", "ferret", "finch", "gecko",
    "heron", "ibex", "jackal", "koala", "lemur", "lynx", "marmot", "moose", "newt", "ocelot",
    "otter", "panda", "puffin", "quail", "raven", "salmon", "stork", "tapir", "toucan",
    "walrus", "wombat", "yak", "zebra",
)  # fmt: skip


def generate() -> str:
    return f"{secrets.choice(_ADJECTIVES)}-{secrets.choice(_ANIMALS)}"
