"""Test runs: fast hashing, e-mail kept in memory, tasks eager unless a test says otherwise."""

from .base import *  # noqa: F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
CELERY_BROKER_URL = ""
CELERY_TASK_ALWAYS_EAGER = True
CONFIG_CACHE_SECONDS = 0  # no copy from one test's rows in the next; tests of the cache turn it on
ACCOUNT_RATE_LIMITS = False  # off for speed; members/tests/test_rate_limits.py turns them back on
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.InMemoryStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
