"""The coach benchmark: `python -m bench` (see bench/README.md)."""
