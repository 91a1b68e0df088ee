"""Authoring in the browser: the programme list, a draft's settings and steps, and one step's
editor beside its live preview.

Every page works without JavaScript: each form posts, the change is made by the same
structured edits and validator the CLI uses (coach/programmes/edits.py, drafts.py), and the
page comes back with the validator's problems at their field. A save names the revision it
was made on: when another author saved since, the change is refused with who and when, never
written over theirs. Previews render in the sweep's sandbox (coach/programmes/preview.py).
"""

from collections.abc import Callable, Mapping
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from coach.admin.audit import audit
from coach.admin.roles import DRAFTS_EDIT, DRAFTS_PREVIEW, DRAFTS_TEST_SEND, PROGRAMMES_VIEW
from coach.delivery.channels import (
    OutgoingMessage,
    PermanentFailure,
    TemporaryFailure,
    UnknownOutcome,
    channel_for,
)
from coach.programmes import drafts, edits
from coach.programmes.drafts import DraftConflict, DraftError, DraftProblem
from coach.programmes.models import Programme, ProgrammeDraft, ProgrammeVersion
from coach.programmes.preview import Persona, StepPreview, preview_step
from coach.programmes.programme_yaml import FormatError
from coach.programmes.qualities import QUALITIES
from coach.programmes.render import markdown_to_html
from coach.scheduling.models import Enrolment
from coach.web.admin.guard import requires
from coach.web.admin.pages import render
from coach.web.context import Web, as_sentence

BASE = "/admin/programmes"
MAX_TEXT = 20_000  # characters in one field: far beyond a step, well within a form
MAX_TEST_STEPS = 60  # a whole programme's test: every built-in has fewer steps
DONE = {"created": "Draft created from the newest version.", "saved": "Saved.",
        "added": "Step added.", "removed": "Step removed.", "moved": "Step moved.",
        "duplicated": "Step duplicated."}
Edit = Callable[[Mapping[str, str], FormData], dict[str, str]]


def routes(web: Web) -> list[Route]:
    @requires(PROGRAMMES_VIEW)
    async def listing(request: Request) -> Response:
        rows = await run_in_threadpool(_listing, web)
        return render(request, "admin/programmes.html", {"programmes": rows})

    @requires(DRAFTS_EDIT)
    async def start_draft(request: Request) -> Response:
        slug = request.path_params["slug"]
        started = await run_in_threadpool(_start_draft, web, request, slug)
        if not started:
            return _missing(request)
        return RedirectResponse(f"{BASE}/{slug}/draft?done=created", status_code=303)

    @requires(DRAFTS_PREVIEW)
    async def draft_page(request: Request) -> Response:
        return await _draft_page(request)

    async def _draft_page(request: Request, error: str | None = None,
                          status: int = 200) -> Response:
        slug = request.path_params["slug"]
        view = await run_in_threadpool(_draft_view, web, slug)
        if view is None:
            return _missing(request)
        return render(request, "admin/draft.html", {
            **view, "error": error, "done": DONE.get(request.query_params.get("done", "")),
            "qualities": QUALITIES, "kinds": edits.KINDS}, status_code=status)

    def edit(change: Edit, done: str, target: Callable[[FormData], str] | None = None
             ) -> Callable[[Request], Any]:
        @requires(DRAFTS_EDIT)
        async def endpoint(request: Request) -> Response:
            slug = request.path_params["slug"]
            form = await request.form()
            try:
                await run_in_threadpool(_edit, web, request, slug, form, change, done)
            except (DraftError, edits.EditError, FormatError) as error:
                return await _draft_page(request, as_sentence(str(error)), 400)
            where = target(form) if target else f"{BASE}/{slug}/draft"
            return RedirectResponse(f"{where}?done={done}", status_code=303)
        return endpoint

    @requires(DRAFTS_PREVIEW)
    async def step_page(request: Request) -> Response:
        return await _step_page(request)

    async def _step_page(request: Request, error: str | None = None, status: int = 200,
                         typed: Mapping[str, str] | None = None) -> Response:
        slug, key = request.path_params["slug"], request.path_params["key"]
        persona = _persona(request.query_params)
        view = await run_in_threadpool(_step_view, web, slug, key, persona, typed)
        if view is None:
            return _missing(request)
        return render(request, "admin/step.html", {
            **view, "error": error, "done": _done(request.query_params.get("done", "")),
            "persona": persona, "kinds": edits.KINDS,
            "question_types": edits.QUESTION_TYPES}, status_code=status)

    @requires(DRAFTS_EDIT)
    async def save_step(request: Request) -> Response:
        slug, key = request.path_params["slug"], request.path_params["key"]
        form = await request.form()
        changes = _step_changes(form)
        autosave = request.headers.get("x-coach-autosave") == "1"
        try:
            new_key, revision = await run_in_threadpool(_save_step, web, request, slug, key,
                                                        form, changes)
        except (DraftError, edits.EditError, FormatError) as error:
            status = 409 if isinstance(error, DraftConflict) else 400
            if autosave:
                return JSONResponse({"error": as_sentence(str(error))}, status_code=status)
            return await _step_page(request, as_sentence(str(error)), status, typed=changes)
        if autosave:  # the page's script: it keeps the form, and the new revision
            return JSONResponse({"revision": revision, "key": new_key})
        return RedirectResponse(f"{BASE}/{slug}/draft/steps/{new_key}?done=saved",
                                status_code=303)

    @requires(DRAFTS_TEST_SEND)
    async def test_send(request: Request) -> Response:
        slug, key = request.path_params["slug"], request.path_params["key"]
        form = await request.form()
        whole = form.get("what") == "programme"
        try:
            sent = await run_in_threadpool(_test_send, web, request, slug, key, whole)
        except TestSendFailed as error:
            return await _step_page(request, str(error), 502)
        if sent is None:
            return _missing(request)
        where = f"{BASE}/{slug}/draft/steps/{key}"
        return RedirectResponse(f"{where}?done=test-sent-{min(sent, 999)}", status_code=303)

    @requires(DRAFTS_PREVIEW)
    async def live_preview(request: Request) -> Response:
        """The preview of what is typed, unsaved: the step page's script asks for it."""
        slug, key = request.path_params["slug"], request.path_params["key"]
        changes = _step_changes(await request.form())
        preview = await run_in_threadpool(_unsaved_preview, web, slug, key, changes,
                                          _persona(request.query_params))
        if preview is None:
            return _missing(request)
        return render(request, "admin/_preview.html", {"preview": preview})

    return [
        Route(BASE, listing, methods=["GET"]),
        Route(f"{BASE}/{{slug}}/draft/steps/{{key}}/preview", live_preview, methods=["POST"]),
        Route(f"{BASE}/{{slug}}/draft/steps/{{key}}/test-send", test_send, methods=["POST"]),
        Route(f"{BASE}/{{slug}}/draft/start", start_draft, methods=["POST"]),
        Route(f"{BASE}/{{slug}}/draft", draft_page, methods=["GET"]),
        Route(f"{BASE}/{{slug}}/draft/settings", edit(_settings, "saved"), methods=["POST"]),
        Route(f"{BASE}/{{slug}}/draft/steps/add", edit(_add, "added"), methods=["POST"]),
        Route(f"{BASE}/{{slug}}/draft/steps/remove", edit(_remove, "removed"),
              methods=["POST"]),
        Route(f"{BASE}/{{slug}}/draft/steps/move", edit(_move, "moved"), methods=["POST"]),
        Route(f"{BASE}/{{slug}}/draft/steps/duplicate", edit(_duplicate, "duplicated"),
              methods=["POST"]),
        Route(f"{BASE}/{{slug}}/draft/steps/{{key}}", step_page, methods=["GET"]),
        Route(f"{BASE}/{{slug}}/draft/steps/{{key}}", save_step, methods=["POST"]),
    ]


class TestSendFailed(RuntimeError):
    pass


def _done(code: str) -> str | None:
    if code.startswith("test-sent-") and code[10:].isdigit():
        count = int(code[10:])
        return (f"Sent {count} test email{'s' if count != 1 else ''} to your own address, "
                "marked as a test. Tests are not counted anywhere.")
    return DONE.get(code)


def _test_send(web: Web, request: Request, slug: str, key: str, whole: bool) -> int | None:
    """One step (or every step, in order, at once) by email to the author's own address,
    through the real channel, marked as a test: no outbox row, so never in any figure."""
    account = request.state.admin
    with web.factory() as session:
        draft = drafts.get_draft(session, slug)
        files = dict(draft.files) if draft else None
    form = _form_or_none(files) if files else None
    if files is None or form is None or key not in [s.key for s in form.steps]:
        return None
    keys = [s.key for s in form.steps][:MAX_TEST_STEPS] if whole else [key]
    channel = channel_for("email", web.settings)
    sent = 0
    try:
        for number, step_key in enumerate(keys, 1):
            preview = preview_step(files, step_key, Persona(name=account.email.split("@")[0]))
            if preview.problems or not preview.messages:
                raise TestSendFailed(f"Step {step_key} cannot be rendered yet: fix its problems "
                                     "first, then send the test again.")
            message = preview.messages[0]
            label = f"[Test {number}/{len(keys)}: {step_key}]" if whole else f"[Test: {key}]"
            channel.send(OutgoingMessage(
                0, "email", account.email, message.markdown, f"{label} {message.subject}"[:200],
                markdown_to_html(message.markdown), kind="test"))
            sent += 1
    except (PermanentFailure, TemporaryFailure, UnknownOutcome) as error:
        raise TestSendFailed(f"The email channel refused the test after {sent} sent: {error}. "
                             "Check the channel settings, then try again.") from None
    finally:
        close = getattr(channel, "close", None)
        if callable(close):
            close()
        with web.factory.begin() as session:
            audit(session, account, "draft.test-send", "programme", slug,
                  f"{sent} of {len(keys)} step(s) from {key} to their own address")
    return sent


# Reading -------------------------------------------------------------------------------------

def _listing(web: Web) -> list[dict[str, Any]]:
    with web.factory() as session:
        people = dict(session.execute(
            select(Enrolment.version_id, func.count(Enrolment.id))
            .where(Enrolment.state.in_(("active", "awaiting", "paused")))
            .group_by(Enrolment.version_id)).all())
        draft_slugs = {d.slug: d for d in session.scalars(select(ProgrammeDraft))}
        rows = []
        for programme in session.scalars(select(Programme).order_by(Programme.slug)):
            versions = [{"number": v.number, "people": people.get(v.id, 0)}
                        for v in programme.versions]
            draft = draft_slugs.pop(programme.slug, None)
            rows.append({"slug": programme.slug, "title": programme.title,
                         "quality": QUALITIES.get(programme.quality, programme.quality),
                         "languages": "English", "versions": versions,
                         "draft": _draft_state(session, draft)})
        for slug, draft in sorted(draft_slugs.items()):  # drafts never published
            form = _form_or_none(draft.files)
            rows.append({"slug": slug, "title": form.title if form else slug,
                         "quality": QUALITIES.get(str(form.quality), "") if form else "",
                         "languages": "English", "versions": [],
                         "draft": _draft_state(session, draft)})
        return rows


def _draft_state(session: Session, draft: ProgrammeDraft | None) -> str | None:
    if draft is None:
        return None
    state = ("changes not yet published" if drafts.has_unpublished_work(session, draft)
             else "as published")
    return f"revision {draft.revision}, {state}, by {draft.updated_by or 'the command line'}"


def _draft_view(web: Web, slug: str) -> dict[str, Any] | None:
    with web.factory() as session:
        draft = drafts.get_draft(session, slug)
        if draft is None:
            published = session.scalar(select(Programme.id).where(Programme.slug == slug))
            return None if published is None else {"slug": slug, "draft": None}
        files = dict(draft.files)
    form = _form_or_none(files)
    return {"slug": slug, "draft": draft, "form": form, "problems": drafts.validate_draft(
        files, slug), "pacing": _pacing_text(form.pacing if form else {})}


def _step_view(web: Web, slug: str, key: str, persona: Persona,
               typed: Mapping[str, str] | None) -> dict[str, Any] | None:
    with web.factory() as session:
        draft = drafts.get_draft(session, slug)
        if draft is None:
            return None
        files, revision = dict(draft.files), draft.revision
    form = _form_or_none(files)
    step = next((s for s in form.steps if s.key == key), None) if form else None
    if step is None:
        return None
    problems = [p for p in drafts.validate_draft(files, slug) if p.step == key]
    preview = preview_step(files, key, persona)
    texts = step.texts.get(persona.language) or step.texts.get("en", {})
    values = {"key": step.key, "kind": step.kind, "week": step.week, "gap_days": step.gap_days,
              "question": step.question, "question_type": step.question_type,
              "save_as": step.save_as or "", **{name: texts.get(name) or "" for name in
                                                  edits.TEXT_FIELDS}}
    return {"slug": slug, "revision": revision, "step": step, "values": {**values,
            **(typed or {})}, "problems": problems, "by_field": _by_field(problems),
            "preview": preview, "steps": [s.key for s in form.steps] if form else []}


def _unsaved_preview(web: Web, slug: str, key: str, changes: Mapping[str, str],
                    persona: Persona) -> StepPreview | None:
    with web.factory() as session:
        draft = drafts.get_draft(session, slug)
        files = dict(draft.files) if draft else None
    if files is None:
        return None
    try:
        edited = edits.edit_step(files, key, _typed(changes))
    except (edits.EditError, FormatError) as error:
        return StepPreview(key, [], [DraftProblem("programme.yaml", 1, str(error), key)])
    return preview_step(edited, changes.get("key") or key, persona)


def _by_field(problems: list[DraftProblem]) -> dict[str, list[DraftProblem]]:
    found: dict[str, list[DraftProblem]] = {}
    for problem in problems:
        found.setdefault(problem.field or "", []).append(problem)
    return found


def _form_or_none(files: Mapping[str, str]) -> edits.ProgrammeForm | None:
    try:
        return edits.read_form(files)
    except (FormatError, edits.EditError):
        return None


def _pacing_text(pacing: Mapping[str, Any]) -> str:
    return "\n".join(f"{name}: {value}" for name, value in pacing.items())


def _persona(query: Mapping[str, str]) -> Persona:
    answers = {}
    for line in query.get("answers", "").splitlines()[:20]:
        name, _, value = line.partition("=")
        if name.strip():
            answers[name.strip()[:40]] = value.strip()[:400]
    quality = query.get("quality", "")
    return Persona(name=query.get("name", "Sam")[:100],
                   quality=quality if quality in QUALITIES else None, answers=answers,
                   discreet=query.get("discreet") == "on", language="en")


# Changing ------------------------------------------------------------------------------------

def _start_draft(web: Web, request: Request, slug: str) -> bool:
    account = request.state.admin
    with web.factory.begin() as session:
        if drafts.get_draft(session, slug) is not None:
            return True
        version = session.scalars(select(ProgrammeVersion).join(Programme)
                                  .where(Programme.slug == slug)
                                  .order_by(ProgrammeVersion.number.desc())).first()
        if version is None:
            return False
        drafts.create_from_version(session, version, account.email)
        audit(session, account, "draft.create", "programme", slug,
              f"from version {version.number}")
        return True


def _edit(web: Web, request: Request, slug: str, form: FormData, change: Edit,
          done: str) -> int:
    """Apply one change and save it as the next revision (returned)."""
    account = request.state.admin
    with web.factory.begin() as session:
        draft = drafts.get_draft(session, slug)
        if draft is None:
            raise DraftError(f"there is no draft of {slug}; start one from its programme")
        files = change(draft.files, form)
        saved = drafts.save(session, slug, files, _revision(form), account.email, web.now())
        audit(session, account, f"draft.{done}", "programme", slug,
              f"revision {saved.revision}")
        return saved.revision


def _save_step(web: Web, request: Request, slug: str, key: str, form: FormData,
               changes: dict[str, str]) -> tuple[str, int]:
    def change(files: Mapping[str, str], _: FormData) -> dict[str, str]:
        return edits.edit_step(files, key, _typed(changes))

    revision = _edit(web, request, slug, form, change, "saved")
    return changes.get("key") or key, revision


def _revision(form: FormData) -> int:
    text = str(form.get("revision", ""))
    if not text.isdigit():
        raise DraftError("the form did not say which revision it was made on; reload the "
                         "page and make the change again")
    return int(text)


def _text(form: FormData, name: str) -> str:
    value = str(form.get(name, ""))
    if len(value) > MAX_TEXT:
        raise edits.EditError(f"{name} is over {MAX_TEXT} characters; shorten it")
    return value.replace("\r\n", "\n")


def _settings(files: Mapping[str, str], form: FormData) -> dict[str, str]:
    pacing: dict[str, Any] = {}
    for number, line in enumerate(_text(form, "pacing").splitlines(), 1):
        if not line.strip():
            continue
        name, colon, value = line.partition(":")
        if not colon:
            raise edits.EditError(f"pacing line {number} is not 'name: value', like "
                                  "slower_factor: 1.5")
        pacing[name.strip()] = _number(value.strip())
    return edits.set_settings(files, {"title": _text(form, "title").strip(),
                                      "quality": _text(form, "quality").strip(),
                                      "summary": _text(form, "summary").strip() or None,
                                      "pacing": pacing})


def _add(files: Mapping[str, str], form: FormData) -> dict[str, str]:
    return edits.add_step(files, _text(form, "key").strip(), _text(form, "kind") or "reflection",
                          after=_text(form, "after") or None)


def _remove(files: Mapping[str, str], form: FormData) -> dict[str, str]:
    return edits.remove_step(files, _text(form, "key"))


def _move(files: Mapping[str, str], form: FormData) -> dict[str, str]:
    key, direction = _text(form, "key"), _text(form, "direction")
    order = [step.key for step in edits.read_form(files).steps]
    if key not in order or direction not in ("up", "down"):
        raise edits.EditError("choose a step and whether to move it up or down")
    index = order.index(key) + (-1 if direction == "up" else 1)
    return edits.move_step(files, key, max(0, min(index, len(order) - 1)))


def _duplicate(files: Mapping[str, str], form: FormData) -> dict[str, str]:
    return edits.duplicate_step(files, _text(form, "key"), _text(form, "new_key").strip())


def _step_changes(form: FormData) -> dict[str, str]:
    names = ("key", "kind", "week", "gap_days", "question", "question_type", "save_as",
             *edits.TEXT_FIELDS)
    return {name: _text(form, name) for name in names if name in form}


def _typed(changes: Mapping[str, str]) -> dict[str, Any]:
    typed: dict[str, Any] = dict(changes)
    for name in ("week", "gap_days"):
        if name in typed:
            typed[name] = _number(typed[name].strip())
    if "save_as" in typed:
        typed["save_as"] = typed["save_as"].strip() or None
    for name in ("sms_discreet", "subject_discreet"):
        if name in typed and not typed[name].strip():
            typed[name] = None
    if typed.get("kind") != "checkin":
        typed.pop("question", None)
        typed.pop("question_type", None)
        typed.pop("save_as", None)
    return typed


def _number(text: str) -> Any:
    try:
        return int(text)
    except ValueError:
        try:
            return float(text)
        except ValueError:
            return text  # the validator says what is wrong with it, at its line




def _missing(request: Request) -> Response:
    return render(request, "admin/not_found.html", {"what": "That programme or step"},
                  status_code=404)

