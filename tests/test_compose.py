"""docker-compose.yml is for users (no Docker engine here): it must parse, name commands that
exist, and configure a stack that production's start-up checks accept once the user has set
what the file asks for."""

import importlib
import re
import shlex
from pathlib import Path

import yaml
from typer.main import get_command

from coach.cli.main import app as cli
from coach.delivery.channels import check_channels
from coach.settings import PROJECT_ROOT, Settings
from tests.test_settings import STRONG, STRONG_TOO

VARIABLE = re.compile(r"\$\{(\w+)(?::([?-])([^}]*))?\}")
GIVEN = {"COACH_SECRET_KEY": STRONG, "COACH_INBOUND_EMAIL_SECRET": STRONG_TOO,
         "COACH_PUBLIC_URL": "https://coach.example.org"}


def compose() -> dict:
    return yaml.safe_load((PROJECT_ROOT / "docker-compose.yml").read_text())


def interpolate(value: str) -> str:
    def one(match: re.Match[str]) -> str:
        name, kind, rest = match.groups()
        if kind == "?":
            assert name in GIVEN, f"the file asks users for {name}; the test must give it"
            return GIVEN[name]
        return rest or ""

    return VARIABLE.sub(one, value)


def test_the_stack_passes_production_start_up_checks_once_the_asked_values_are_set(tmp_path):
    environment = {k: interpolate(str(v)) for k, v in compose()["x-coach"]["environment"].items()}
    assert environment["COACH_ENV"] == "production"
    settings = Settings(_env_file=None, data_dir=tmp_path, **{
        k.removeprefix("COACH_").lower(): v for k, v in environment.items()})
    settings.check_production_ready()
    check_channels(settings)


def test_every_service_runs_a_command_that_exists():
    services = compose()["services"].values()
    commands = [interpolate(" ".join(map(str, s["command"]))) for s in services if "command" in s]
    assert commands
    for command in commands:
        for part in command.split("&&"):
            words = shlex.split(part.removeprefix("sh -c").strip().strip('"'))
            _exists(words)


def _exists(words: list[str]) -> None:
    program = words[0]
    if program == "uvicorn":
        module, _, attribute = words[1].partition(":")
        assert Path(PROJECT_ROOT, *module.split(".")).with_suffix(".py").is_file(), module
        assert attribute == "app"
    elif program == "celery":
        assert words[1:3] == ["-A", "tasks.app"] and words[3] in ("worker", "beat")
        importlib.import_module("tasks.app")
    elif program == "redis-server":  # the redis image's own server, with options it knows
        options = words[1::2]
        assert set(options) <= {"--appendonly", "--appendfsync", "--save"}, options
    elif program == "coach":
        group = get_command(cli)
        for word in words[1:]:
            group = group.commands[word]  # type: ignore[attr-defined]
    else:
        raise AssertionError(f"unknown program {program!r} in docker-compose.yml")


def test_redis_keeps_queued_tasks_across_a_restart_and_workers_may_finish_a_batch():
    services = compose()["services"]
    redis = services["redis"]
    assert "--appendonly" in redis["command"] and "yes" in redis["command"]
    assert any(volume.endswith(":/data") for volume in redis["volumes"])
    assert "redisdata" in compose()["volumes"]
    from tasks.jobs import SEND_HARD_SECONDS

    grace = services["worker"]["stop_grace_period"]
    assert grace.endswith("m") and int(grace[:-1]) * 60 > SEND_HARD_SECONDS
