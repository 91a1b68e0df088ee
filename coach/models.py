"""Every table, imported in one place for Alembic and for ``Base.metadata``."""

from coach.admin.models import AdminAccount, AdminSession, AdminSwitch, AuditEntry
from coach.db import Base
from coach.delivery.models import Delivery
from coach.events.models import Event
from coach.inbound.models import Reply
from coach.inbound.signup_models import SmsSignup
from coach.programmes.models import Programme, ProgrammeDraft, ProgrammeVersion
from coach.safety.models import Flag
from coach.scheduling.models import Enrolment
from coach.subscribers.models import PendingSignup, Subscriber, Suppression

__all__ = [
    "AdminAccount", "AdminSession", "AdminSwitch", "AuditEntry", "Base", "Delivery", "Enrolment",
    "Event", "Flag", "PendingSignup", "Programme", "ProgrammeDraft", "ProgrammeVersion", "Reply",
    "SmsSignup", "Subscriber", "Suppression",
]
