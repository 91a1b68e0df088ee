"""A template that fails for one enrolment of a batch: raising on that person's data, or breaking
its size budget. That enrolment is reported (an error event with a reason an admin can read)
and waits; the rest of its batch goes.

Short enough for the default run: a real worker, sixty people and one sweep.
"""

from sqlalchemy import select

from coach.events.models import Event
from coach.programmes.models import Programme, ProgrammeVersion
from coach.scheduling.models import Enrolment
from coach.scheduling.sweep import RETRY_AFTER_TEMPLATE_PROBLEM
from coach.subscribers.models import Subscriber
from tests.conftest import START
from tests.faults.conftest import Recorder
from tests.faults.run import DUE, FaultRun
from tests.helpers import enrol
from tests.security.templates import source

# The welcome's SMS and email, failing for two names only, each its own way.
OVERSIZE = "{% if name == 'Oversize' %}{{ 'x' * 10**7 }}{% endif %}Hi {{ name }}."
RAISES = "{% if name == 'Raises' %}{{ answers.never_given }}{% endif %}Hi {{ name }}."
BROKEN = {"Oversize": "step welcome broke its size budget (",
          "Raises": "step welcome failed at steps/welcome.j2:4 (UndefinedError)"}


def test_a_template_failing_for_one_enrolment_fails_it_alone(fault_run: FaultRun,
                                                           record: Recorder) -> None:
    _welcome_failing_for_two_names(fault_run)
    fault_run.populate(people=60, opt_outs=2)
    for name in BROKEN:  # one by email, one by SMS, among the others of their batch
        enrol(fault_run.factory, START, name=name,
              **({"email": f"{name.lower()}@example.org"} if name == "Raises" else
                 {"email": "", "phone": "+447911199999"}))
    fault_run.start_worker()
    record.start_clock()
    fault_run.sweep(DUE)
    fault_run.wait_settled(DUE)
    ledger = fault_run.ledger(DUE)
    record("template fails for one enrolment", ledger)
    assert ledger.duplicated == 0 and ledger.lost == 0, ledger
    assert ledger.problems == [] and ledger.unknown == 0, ledger
    assert ledger.sent == ledger.planned - ledger.deferred - ledger.failed == 58 + 2, ledger
    assert _reasons(fault_run) == BROKEN


def _welcome_failing_for_two_names(run: FaultRun) -> None:
    """A new version of trust-and-care whose welcome fails for two names: stored as a release
    from before today's checks would have been, unvalidated (or failing on real data only)."""
    with run.factory.begin() as session:
        programme = session.scalars(select(Programme)
                                    .where(Programme.slug == "trust-and-care")).one()
        latest = programme.versions[-1]
        steps = [dict(step) for step in latest.definition["steps"]]
        steps[0]["source"] = source(sms=OVERSIZE, email=RAISES)
        session.add(ProgrammeVersion(programme=programme, number=latest.number + 1,
                                     checksum="unchecked",
                                     definition={**latest.definition, "steps": steps}))


def _reasons(run: FaultRun) -> dict[str, str]:
    """Each broken enrolment's error event, its reason cut where the details start; each also
    waits a day for an admin instead of failing again every minute."""
    reasons = {}
    with run.factory() as session:
        rows = session.execute(select(Subscriber.name, Event.reason, Enrolment.next_due_at)
                               .join(Event, Event.subscriber_id == Subscriber.id)
                               .join(Enrolment, Enrolment.id == Event.enrolment_id)
                               .where(Event.action == "error"))
        for name, reason, next_due_at in rows:
            assert next_due_at == DUE + RETRY_AFTER_TEMPLATE_PROBLEM, name
            assert "the enrolment waits for an admin" in reason, reason
            reasons[name] = reason[:len(BROKEN.get(name, ""))]
    return reasons
