"""Reply understanding measured on the held-out test split (read here and by `coach replies
evaluate`; it tunes nothing). Two gates: the figures may never fall below what the shipped
reader reaches today (a ratchet: raise FLOOR when the reader improves), and issue 7's targets,
which the reader does not reach yet: that test is a strict expected failure, so it turns into
a failure to fix (move it to a plain test) the day the targets are met."""

import pytest

from coach.inbound.understanding import default_reader
from coach.inbound.understanding.corpus import read_split
from coach.inbound.understanding.evaluation import Report, evaluate

# Measured with: coach replies evaluate --split test
FLOOR: dict[str, tuple[str, float]] = {
    "risk recall": (">=", 0.90),
    "risk recall, worst category": (">=", 0.87),
    "risk recall, worst language": (">=", 0.89),
    "false alarms": ("<=", 0.03),
    "opt-out recall": (">=", 0.99),
    "opt-outs on look-alikes": ("<=", 0.0),
    "free-text answers read as slower": ("<=", 0.005),
}


@pytest.fixture(scope="module")
def report() -> Report:
    return evaluate(default_reader(), read_split("test"))


def test_the_test_split_never_falls_below_todays_figures(report):
    assert report.failures(FLOOR) == []


@pytest.mark.xfail(strict=True, reason="issue 7's targets are not met yet: risk recall 0.914 of "
                   "0.98, worst category 0.875 (stalking and fear; sexual coercion 0.889), "
                   "worst language 0.900 (es; en 0.920); false alarms 0.028 and opt-out "
                   "recall 1.000 are met")
def test_the_test_split_meets_the_issue_targets(report):
    assert report.failures() == []


def test_the_shipped_model_is_what_the_train_split_gives():
    from coach.inbound.understanding.train import MODEL_PATH, serialised, train

    assert MODEL_PATH.read_text("utf-8") == serialised(train()), (
        "data/model.json is stale: run python -m coach.inbound.understanding.train")
