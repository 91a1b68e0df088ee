import pytest
from pydantic import ValidationError

from coach.settings import Settings, get_settings

STRONG = "k3Jx9-Qp2vLr7sTa0WmYc5Nd8HfBz1Ue4GiOq6Rt"  # as secrets.token_urlsafe(30) makes
STRONG_TOO = "Vb7Lq2Xm9Kd4Rt8Wn1Pz6Hs3Jc5Fy0Ga-Eu_Ti"


def test_embedded_defaults_need_nothing_installed(tmp_path):
    settings = Settings(data_dir=tmp_path)
    assert settings.effective_database_url == f"sqlite:///{tmp_path / 'coach.sqlite3'}"
    assert settings.effective_broker_url.startswith("sqla+sqlite:///")
    assert (settings.sms_backend, settings.email_backend) == ("console", "console")
    settings.check_production_ready()  # development: no complaint


def test_production_refuses_default_secrets_and_embedded_services(tmp_path):
    with pytest.raises(RuntimeError) as refused:
        Settings(env="production", data_dir=tmp_path).check_production_ready()
    for hint in ("COACH_SECRET_KEY", "COACH_DATABASE_URL", "COACH_BROKER_URL"):
        assert hint in str(refused.value)
    Settings(env="production", secret_key=STRONG, database_url="postgresql://db/coach",
             broker_url="redis://redis:6379/0", sms_backend="off", email_backend="off",
             public_url="https://coach.example.org", inbound_email_secret=STRONG_TOO,
             ).check_production_ready()


def test_settings_come_from_coach_environment_variables(monkeypatch, tmp_path):
    monkeypatch.setenv("COACH_DATABASE_URL", "postgresql+psycopg://db/coach")
    monkeypatch.setenv("COACH_SWEEP_BATCH_SIZE", "250")
    settings = Settings(data_dir=tmp_path)
    assert settings.effective_database_url == "postgresql+psycopg://db/coach"
    assert settings.sweep_batch_size == 250


def test_an_unknown_channel_backend_is_refused_with_the_choices(tmp_path):
    with pytest.raises(ValidationError, match="console"):
        Settings(data_dir=tmp_path, sms_backend="pigeon")


def test_a_redis_key_prefix_reaches_every_key_coach_writes(monkeypatch, tmp_path):
    from limits.storage import RedisStorage

    from coach.delivery.ratelimit import RateLimiter
    from coach.web.throttle import storage_for

    settings = Settings(data_dir=tmp_path, broker_url="redis://127.0.0.1:6379/15",
                        redis_key_prefix="blue:")
    store = storage_for(settings)
    assert isinstance(store, RedisStorage) and store.key_prefix == "blue:LIMITER"
    limiter = RateLimiter("redis://127.0.0.1:6379/15", "+15005550006", 1, key_prefix="blue:")
    assert limiter.key == "blue:coach:send-rate:+15005550006"
    monkeypatch.setenv("COACH_REDIS_KEY_PREFIX", "blue:")
    monkeypatch.setenv("COACH_BROKER_URL", "redis://127.0.0.1:6379/15")
    get_settings.cache_clear()
    from celery import Celery

    from tasks.app import _configure

    app = Celery("prefix-check")
    _configure(app)
    assert app.conf.broker_transport_options == {"global_keyprefix": "blue:"}
    get_settings.cache_clear()
