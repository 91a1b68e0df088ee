"""What a person changes on their own manage page: clock, channel, language, discreet mode,
pauses, their focus quality, and which channels they hear on.

Each change is checked before anything is stored (``ManageError`` says what to fix), recorded
with a reason, and takes effect for the next message; a new time or zone moves the next due
time to the same local day at the new time, across DST, never earlier than now.
"""

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from sqlalchemy.orm import Session

from coach.delivery.services import delivery_row, insert_deliveries
from coach.events.services import record
from coach.programmes.qualities import check_quality, quality_name
from coach.programmes.render import render_message
from coach.programmes.services import version_for_quality
from coach.scheduling import plan
from coach.scheduling.apply import apply_event
from coach.scheduling.consent import opt_out
from coach.scheduling.enrol import current_enrolment, start_enrolment
from coach.scheduling.models import ACTIVE, AWAITING, COMPLETED, PAUSED, STOPPED, Enrolment
from coach.scheduling.pacing import MAX_PAUSE_DAYS, Halt, Pause, Resume
from coach.subscribers.clock import LocalClock, next_allowed_time
from coach.subscribers.models import CHANNELS, Subscriber
from coach.subscribers.services import LANGUAGES, SubscribeError, check_clock

SOURCE = "manage page"
# A chosen next focus starts this long after the last programme's closing: time to rest.
NEXT_FOCUS_AFTER = timedelta(days=7)
RUNNING = (ACTIVE, AWAITING, PAUSED)


class ManageError(ValueError):
    pass


@dataclass(frozen=True)
class Settings:
    """What the settings form gives: every field, as the person left it."""

    send_time: str
    timezone: str
    quiet_start: str
    quiet_end: str
    channel: str
    language: str
    discreet: bool


@dataclass(frozen=True)
class NextMessage:
    at: datetime  # UTC
    local: datetime
    channel: str | None


def next_message(session: Session, subscriber: Subscriber) -> NextMessage | None:
    enrolment = current_enrolment(session, subscriber.id)
    if enrolment is None or enrolment.next_due_at is None or enrolment.state in (COMPLETED,
                                                                                  STOPPED):
        return None
    due = enrolment.next_due_at
    return NextMessage(due, subscriber.clock().local(due), plan.channel_for(subscriber))


def change_settings(session: Session, subscriber: Subscriber, wanted: Settings,
                    now: datetime) -> list[str]:
    """Store the changed settings; returns what changed, in words. Raises ManageError."""
    clock = _checked_clock(wanted)
    if wanted.language not in LANGUAGES:
        raise ManageError(f"choose a language coach speaks: {', '.join(LANGUAGES)}")
    if wanted.channel not in CHANNELS or not subscriber.consented(wanted.channel):
        raise ManageError("choose a channel you are subscribed on; to add one, sign up with "
                          "that address")
    old = subscriber.clock()
    changed = _changes(subscriber, wanted)
    if not changed:
        return []
    subscriber.timezone = clock.timezone
    subscriber.send_time, subscriber.quiet_start, subscriber.quiet_end = (
        clock.send_time, clock.quiet_start, clock.quiet_end)
    subscriber.preferred_channel = wanted.channel
    subscriber.language, subscriber.discreet = wanted.language, wanted.discreet
    enrolment = current_enrolment(session, subscriber.id)
    if enrolment is not None and enrolment.next_due_at is not None and old != clock:
        enrolment.next_due_at = _moved(enrolment.next_due_at, old, clock, subscriber, now)
    record(session, subscriber.id, now, "decision", "settings",
           f"changed on the manage page: {', '.join(changed)}",
           enrolment.id if enrolment else None, fields=changed)
    return changed


def pause_until(session: Session, subscriber: Subscriber, until: date, now: datetime) -> None:
    """Pause until a local date (inclusive of the day before it); nothing missed is caught up."""
    today = subscriber.clock().local(now).date()
    days = (until - today).days
    if days < 1:
        raise ManageError("choose a date after today to pause until")
    if days > MAX_PAUSE_DAYS:
        raise ManageError(f"a pause can last up to {MAX_PAUSE_DAYS} days; choose a date before "
                          f"{today + timedelta(days=MAX_PAUSE_DAYS + 1):%-d %B %Y}")
    enrolment = _running(session, subscriber)
    apply_event(session, subscriber, enrolment, Pause(now, days), now, source=SOURCE)


def resume(session: Session, subscriber: Subscriber, now: datetime) -> None:
    enrolment = current_enrolment(session, subscriber.id)
    if enrolment is None or enrolment.state != PAUSED:
        raise ManageError("your programme is not paused")
    apply_event(session, subscriber, enrolment, Resume(now), now, source=SOURCE)


def switch_focus(session: Session, subscriber: Subscriber, focus: str, when: str,
                 now: datetime) -> list[int]:
    """``when`` is now (the current programme ends with a short goodbye, the new one starts
    at the next preferred time) or after (the new one starts when the current one completes).
    Returns the goodbye's outbox ids."""
    try:
        quality = check_quality(focus)
    except ValueError as error:
        raise ManageError(str(error)) from None
    current = current_enrolment(session, subscriber.id)
    running = current is not None and current.state in RUNNING
    if running and current is not None and current.quality == quality:
        raise ManageError(f"you are already working on {quality_name(quality)}")
    if version_for_quality(session, quality) is None:
        raise ManageError(f"{quality_name(quality)} has no programme yet; choose another")
    if when not in ("now", "after"):
        raise ManageError("choose whether to start now or after your current programme")
    if when == "after" and running:
        subscriber.next_focus = quality
        record(session, subscriber.id, now, "decision", "next-focus",
               f"{quality_name(quality)} starts when the current programme ends")
        return []
    subscriber.next_focus = None
    if not running or current is None:
        start_programme(session, subscriber, quality, now)
        return []
    apply_event(session, subscriber, current, Halt(
        now, f"switched focus to {quality_name(quality)} on the manage page", opted_out=True),
        now, source=SOURCE)
    start_programme(session, subscriber, quality, now)
    return _goodbye(session, subscriber, current, quality, now)


def start_next_focus(session: Session, subscriber: Subscriber, now: datetime) -> None:
    """The programme a person chose to follow the one that has just completed."""
    quality, subscriber.next_focus = subscriber.next_focus, None
    if quality is not None and version_for_quality(session, quality) is not None:
        start_programme(session, subscriber, quality, now, now + NEXT_FOCUS_AFTER)


def start_programme(session: Session, subscriber: Subscriber, quality: str,
                    now: datetime, earliest: datetime | None = None) -> Enrolment:
    """A new enrolment for someone already subscribed: the welcome at their next time."""
    version = version_for_quality(session, quality)
    if version is None:
        raise ManageError(f"{quality_name(quality)} has no programme yet; choose another")
    due = next_allowed_time(subscriber.clock(), plan.recent_sends(subscriber), earliest or now)
    return start_enrolment(session, subscriber, version, due, now, "chosen on the manage page")


def unsubscribe(session: Session, subscriber: Subscriber, channel: str, now: datetime) -> None:
    """One channel, or ``all``: the same single opt-out path as STOP."""
    channels = CHANNELS if channel == "all" else (channel,)
    if any(c not in CHANNELS for c in channels):
        raise ManageError("choose text messages, email, or everything")
    for each in channels:
        if subscriber.consented(each):
            opt_out(session, subscriber, each, now, SOURCE,
                    f"unsubscribed from {'texts' if each == 'sms' else 'email'} on the manage "
                    "page")


def _goodbye(session: Session, subscriber: Subscriber, ended: Enrolment, quality: str,
             now: datetime) -> list[int]:
    channel = plan.channel_for(subscriber)
    if channel is None:
        return []
    rendered = render_message("focus_switched", {
        "old": quality_name(ended.quality), "new": quality_name(quality),
        "name": subscriber.name or "there"}, subscriber.discreet, subscriber.language)
    return insert_deliveries(session, [delivery_row(
        f"focus-switched:{ended.id}", subscriber, channel, "ack", rendered, now,
        enrolment_id=ended.id)])


def _running(session: Session, subscriber: Subscriber) -> Enrolment:
    enrolment = current_enrolment(session, subscriber.id)
    if enrolment is None or enrolment.state not in (ACTIVE, AWAITING):
        raise ManageError("there is no programme running to pause")
    return enrolment


def _checked_clock(wanted: Settings) -> LocalClock:
    try:
        return check_clock(wanted.timezone, wanted.send_time, wanted.quiet_start,
                           wanted.quiet_end)
    except SubscribeError as error:
        raise ManageError(str(error)) from None


def _changes(subscriber: Subscriber, wanted: Settings) -> list[str]:
    now_values = {
        "time": subscriber.send_time.strftime("%H:%M"), "time zone": subscriber.timezone,
        "quiet hours": f"{subscriber.quiet_start:%H:%M}-{subscriber.quiet_end:%H:%M}",
        "channel": subscriber.preferred_channel, "language": subscriber.language,
        "discreet mode": "on" if subscriber.discreet else "off",
    }
    new_values = {
        "time": wanted.send_time, "time zone": wanted.timezone,
        "quiet hours": f"{wanted.quiet_start}-{wanted.quiet_end}", "channel": wanted.channel,
        "language": wanted.language, "discreet mode": "on" if wanted.discreet else "off",
    }
    return [name for name, value in new_values.items() if now_values[name] != value]


def _moved(due: datetime, old: LocalClock, new: LocalClock, subscriber: Subscriber,
           now: datetime) -> datetime:
    """The same local day as before, at the new time in the new zone; never in the past."""
    day_start = new.at(old.local(due).date(), time(0, 0))
    return next_allowed_time(new, plan.recent_sends(subscriber), max(day_start, now))
