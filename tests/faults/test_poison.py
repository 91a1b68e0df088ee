"""A poison task among good ones: the good ones all go, the poison fails once and is gone.

The short scenario of the fault suite, in the default run.
"""

import redis

from tests.faults.conftest import Recorder
from tests.faults.run import DUE, FaultRun
from tests.integration.conftest import wait_until

POISON = {
    "poison-ids": ("coach.send", [["not", "an id"], DUE.isoformat()]),
    "poison-args": ("coach.send", []),  # no ids at all: a TypeError in the task's call
    "poison-name": ("coach.no_such_task", [1]),
}


def test_a_poison_task_fails_once_and_the_good_ones_all_go(fault_run: FaultRun,
                                                          record: Recorder) -> None:
    fault_run.populate(people=60, opt_outs=2)
    fault_run.start_worker()
    record.start_clock()
    for suffix in ("before", "after"):
        for name, (task, args) in POISON.items():
            fault_run.client.send_task(task, args=args, task_id=f"{name}-{suffix}")
        if suffix == "before":
            fault_run.sweep(DUE)
    fault_run.wait_settled(DUE)
    logs = wait_until(lambda: _all_poison_seen(fault_run.worker_logs()))
    ledger = fault_run.ledger(DUE)
    record("poison task among good ones", ledger)
    assert ledger.duplicated == 0 and ledger.lost == 0, ledger
    assert ledger.problems == [] and ledger.unknown == 0, ledger
    assert ledger.sent == ledger.planned - ledger.deferred - ledger.failed == 58 + 2, ledger
    for name in POISON:
        for suffix in ("before", "after"):
            assert logs.count(f"[{name}-{suffix}] retry") == 0, "a poison task is not retried"
    _nothing_left_to_redeliver(fault_run)


def _all_poison_seen(logs: str) -> str | None:
    """Each poison task's end in the worker's log: raised once, or refused as unregistered."""
    ends = [f"[{name}-{suffix}] raised unexpected" for name in ("poison-ids", "poison-args")
            for suffix in ("before", "after")]
    ends.append("'coach.no_such_task'")
    if all(end in logs for end in ends) and logs.count("'coach.no_such_task'") >= 2:
        return logs
    return None


def _nothing_left_to_redeliver(run: FaultRun) -> None:
    """Every message was acknowledged: none waits in the queue or in the unacked set, so no
    poison comes back after the visibility timeout."""
    client = redis.Redis.from_url(run.settings.effective_broker_url)
    prefix = run.settings.redis_key_prefix
    assert client.llen(f"{prefix}celery") == 0
    assert client.hlen(f"{prefix}unacked") == 0
