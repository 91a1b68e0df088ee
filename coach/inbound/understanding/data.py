"""Packaged data files, read once per process."""

from functools import cache
from importlib.resources import files
from typing import Any

import yaml


@cache
def load(name: str) -> Any:
    """A YAML file from ``data/``; cached, so only the first call reads the disk."""
    text = files(__package__).joinpath("data").joinpath(name).read_text(encoding="utf-8")
    return yaml.safe_load(text)
