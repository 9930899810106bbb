"""The settings modules: zero-config local defaults, and production refusing to start half-configured."""

import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PRODUCTION_ENV = {
    "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
    "DJANGO_ALLOWED_HOSTS": "loyalty.example.com",
    "DATABASE_URL": "postgres://postgres@127.0.0.1:5432/loyalty",
    "CELERY_BROKER_URL": "redis://127.0.0.1:6379/0",
}


def manage(*args: str, settings: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if k not in PRODUCTION_ENV and not k.startswith("DJANGO_")}
    clean.update(env, DJANGO_SETTINGS_MODULE=f"loyalty_site.settings.{settings}")
    return subprocess.run(  # noqa: S603 - our own manage.py with fixed arguments
        [sys.executable, "manage.py", *args], cwd=ROOT, env=clean, capture_output=True, text=True, timeout=120
    )


@pytest.mark.parametrize("missing", sorted(PRODUCTION_ENV))
def test_production_refuses_to_start_without_required_setting(missing):
    env = {k: v for k, v in PRODUCTION_ENV.items() if k != missing}
    result = manage("check", settings="production", env=env)
    assert result.returncode != 0
    assert f"{missing} must be set in production" in result.stderr


def test_production_passes_the_deploy_checklist():
    result = manage("check", "--deploy", "--fail-level", "WARNING", settings="production", env=PRODUCTION_ENV)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_production_uses_redis_for_the_shared_cache_and_a_real_broker():
    code = (
        "from django.conf import settings as s;"
        "print(s.CACHES['default']['BACKEND'], s.CELERY_TASK_ALWAYS_EAGER, s.ACCOUNT_EMAIL_VERIFICATION, s.DEBUG)"
    )
    result = manage("shell", "-v", "0", "-c", code, settings="production", env=PRODUCTION_ENV)
    assert result.stdout.split() == ["django.core.cache.backends.redis.RedisCache", "False", "mandatory", "False"]


def test_local_defaults_need_no_environment():
    code = (
        "from django.conf import settings as s;"
        "print(s.DATABASES['default']['ENGINE'], s.CELERY_TASK_ALWAYS_EAGER, s.EMAIL_BACKEND, s.DEBUG,"
        " s.ACCOUNT_EMAIL_VERIFICATION)"
    )
    result = manage("shell", "-v", "0", "-c", code, settings="local", env={"DATABASE_URL": ""})
    assert result.stdout.split() == [
        "django.db.backends.sqlite3",
        "True",
        "django.core.mail.backends.console.EmailBackend",
        "True",
        "optional",
    ], result.stderr
