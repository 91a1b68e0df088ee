"""Imports go one way: a package may import its own layer and the layers below, never above.

Bottom to top: settings, db, secrets_check < events < programmes < subscribers < delivery <
scheduling < safety < inbound < timeline < privacy < admin < web, cli, tasks. Every import
counts, including the lazy ones inside functions. Packages that share a layer are siblings and
do not import each other, except for the edges in SIDEWAYS, each with its reason. The wiring
modules may import anything, and only the CLI imports them.
"""

import ast
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SCANNED = ("coach", "tasks")

LAYERS: tuple[tuple[str, ...], ...] = (
    ("coach", "coach.settings", "coach.db", "coach.bulk", "coach.secrets_check"),
    ("coach.events",),
    ("coach.programmes",),
    ("coach.subscribers",),  # a person, their addresses, consent and local clock
    ("coach.delivery",),
    ("coach.scheduling",),  # pacing, enrolling, opting out, the sweep
    ("coach.safety",),
    ("coach.inbound",),
    ("coach.timeline",),  # the status timeline reads across every package below it
    ("coach.privacy",),  # a person's data: export and erasure, across every package below
    ("coach.admin",),  # admin accounts, roles, sessions and the audit log, for the admin pages
    ("coach.web", "coach.cli", "tasks"),
)

SIDEWAYS: dict[tuple[str, str], str] = {
    ("coach.db", "coach.settings"): "the engine is built from the database URL in the settings",
    ("coach.settings", "coach.secrets_check"): "settings refuse weak secrets in production",
    ("coach.cli", "coach.web"): "`coach run` serves the web app",
    ("coach.cli", "tasks"): "`coach worker` starts the Celery app and `coach run` enqueues "
                            "sends with it",
    ("coach.web", "tasks"): "the production ASGI entry point enqueues sends with send.delay "
                            "(the app itself takes the enqueue function as an argument)",
}

# coach.models imports every model for Alembic; coach.migrate runs Alembic. They may import
# anything, so nothing in a layer may import them but the CLI (and tests and migrations,
# which are not scanned).
WIRING = ("coach.models", "coach.migrate")
WIRING_USERS = ("coach.cli",)


def component(module: str) -> str:
    """coach.inbound.understanding.risk -> coach.inbound; tasks.jobs -> tasks."""
    parts = module.split(".")
    return ".".join(parts[:2]) if parts[0] == "coach" and len(parts) > 1 else parts[0]


def layer_of(part: str) -> int | None:
    return next((i for i, layer in enumerate(LAYERS) if part in layer), None)


def imported_modules(source: str, module: str, is_package: bool) -> list[tuple[int, str]]:
    """(line, module) for every import of coach or tasks in the source, relative ones resolved;
    ``from coach import x`` counts as an import of coach.x."""
    package = module if is_package else module.rpartition(".")[0]
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            if base in {"coach", "tasks"}:
                found += [(node.lineno, f"{base}.{alias.name}") for alias in node.names]
            else:
                found.append((node.lineno, base))
    return [(line, name) for line, name in found if name.split(".")[0] in SCANNED]


def problem(importer: str, imported: str) -> str | None:
    """Why importer may not import imported, or None when the import keeps the order."""
    here, there = component(importer), component(imported)
    if here == there or here in WIRING:
        return None
    if there in WIRING:
        return None if here in WIRING_USERS else f"{there} is wiring, for the CLI only"
    mine, theirs = layer_of(here), layer_of(there)
    if mine is None or theirs is None:
        unknown = here if mine is None else there
        return f"{unknown} is in no layer; add it to LAYERS in tests/test_layers.py"
    if theirs > mine:
        return f"{there} is a layer above {here}"
    if theirs == mine and (here, there) not in SIDEWAYS:
        return f"{there} and {here} are siblings in one layer"
    return None


def modules(root: Path) -> list[tuple[str, str, list[tuple[int, str]]]]:
    """(file, module, its imports) for every module under root's coach/ and tasks/."""
    found = []
    for top in SCANNED:
        for path in sorted((root / top).rglob("*.py")):
            relative = path.relative_to(root)
            is_package = path.name == "__init__.py"
            parts = relative.with_suffix("").parts
            module = ".".join(parts[:-1] if is_package else parts)
            source = path.read_text(encoding="utf-8")
            found.append((relative.as_posix(), module,
                          imported_modules(source, module, is_package)))
    return found


def violations(root: Path) -> list[str]:
    """Every import under root's coach/ and tasks/ that breaks the order, one line each."""
    return [f"{file}:{line} imports {imported}: {why}"
            for file, module, imports in modules(root) for line, imported in imports
            if (why := problem(module, imported))]


def test_imports_go_one_way():
    assert violations(ROOT) == []


def test_every_package_has_a_layer():
    packages = {component(module) for _, module, _ in modules(ROOT)}
    placed = {part for layer in LAYERS for part in layer} | set(WIRING)
    assert packages - placed == set()


def test_sideways_edges_are_used():
    """An allowed exception that nothing needs any more is removed, not kept 'just in case'."""
    used = {(component(module), component(imported))
            for _, module, imports in modules(ROOT) for _, imported in imports}
    assert set(SIDEWAYS) - used == set()


def plant(root: Path, files: dict[str, str]) -> None:
    for name, source in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(source), encoding="utf-8")


def test_the_checker_catches_planted_violations(tmp_path):
    plant(tmp_path, {
        "coach/__init__.py": "",
        "coach/settings.py": """
            def check():
                from coach.delivery.twilio_sms import problems  # lazy, still counted
            """,
        "coach/subscribers/__init__.py": "",
        "coach/subscribers/models.py": "from coach.scheduling.clock import LocalClock\n",
        "coach/scheduling/__init__.py": "",
        "coach/scheduling/plan.py": "from ..inbound import services\n",
        "coach/web/app.py": "import coach.cli.main\n",
        "coach/inbound/services.py": "from coach import models\n",
        "coach/reports/daily.py": "from coach.events.models import Event\n",
        "tasks/jobs.py": "from coach.web.app import create_app\n",
    })
    assert violations(tmp_path) == [
        "coach/inbound/services.py:1 imports coach.models: coach.models is wiring, for the CLI "
        "only",
        "coach/reports/daily.py:1 imports coach.events.models: coach.reports is in no layer; "
        "add it to LAYERS in tests/test_layers.py",
        "coach/scheduling/plan.py:1 imports coach.inbound: coach.inbound is a layer above "
        "coach.scheduling",
        "coach/settings.py:3 imports coach.delivery.twilio_sms: coach.delivery is a layer above "
        "coach.settings",
        "coach/subscribers/models.py:1 imports coach.scheduling.clock: coach.scheduling is a "
        "layer above coach.subscribers",
        "coach/web/app.py:1 imports coach.cli.main: coach.cli and coach.web are siblings in "
        "one layer",
        "tasks/jobs.py:1 imports coach.web.app: coach.web and tasks are siblings in one layer",
    ]


def test_the_checker_lets_the_order_through(tmp_path):
    plant(tmp_path, {
        "coach/__init__.py": "",
        "coach/db.py": "from coach.settings import get_settings\n",
        "coach/scheduling/__init__.py": "",
        "coach/scheduling/plan.py": "from coach.subscribers.clock import LocalClock\n"
                                    "from . import pacing\n",
        "coach/cli/run.py": "from coach.web.app import create_app\nfrom coach import migrate\n",
        "coach/models.py": "import coach.timeline.services\n",
        "coach/web/asgi.py": "def app():\n    from tasks.jobs import send\n",
        "tasks/jobs.py": "from tasks.app import app\nfrom coach.inbound import imap\n",
    })
    assert violations(tmp_path) == []
