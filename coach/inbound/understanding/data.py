"""Packaged data files, read once per process."""

from functools import cache
from importlib.resources import files
from typing import Any

import yaml

# libyaml's loader when PyYAML was built with it (its wheels are): the same data, read about ten
# times faster, so the first reply of a process waits less for the word lists.
LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


@cache
def load(name: str) -> Any:
    """A YAML file from ``data/``; cached, so only the first call reads the disk."""
    text = files(__package__).joinpath("data").joinpath(name).read_text(encoding="utf-8")
    return yaml.load(text, Loader=LOADER)  # a safe loader either way
