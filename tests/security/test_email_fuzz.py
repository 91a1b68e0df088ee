"""The atheris fuzz target for the inbound email parser, run for a bounded time: it exits 0
only when no input made :func:`coach.inbound.email_in.understand` raise."""

import os
import subprocess
import sys
from pathlib import Path

TARGET = Path(__file__).parents[1] / "fuzz" / "fuzz_email.py"
SECONDS = 20


def test_the_email_parser_survives_fuzzing(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(TARGET.parents[2])}
    run = subprocess.run(
        [sys.executable, str(TARGET), f"-max_total_time={SECONDS}", "-timeout=60",
         "-rss_limit_mb=4096", str(tmp_path)],  # the corpus folder: nothing left in the tree
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=SECONDS + 120)
    assert run.returncode == 0, run.stderr[-3000:]
    assert "Done" in run.stderr
