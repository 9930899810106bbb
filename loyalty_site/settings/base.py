"""Settings shared by every environment, read from environment variables (see .env.example).

With no environment at all this gives a working local portal: SQLite file database, Celery tasks
run eagerly in-process, e-mail printed to the console.
"""

from pathlib import Path

import environ
from celery.schedules import crontab

BASE_DIR = Path(__file__).resolve().parent.parent.parent

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

DEBUG = env.bool("DJANGO_DEBUG", default=False)
SECRET_KEY = env("DJANGO_SECRET_KEY", default="insecure-local-only-key-change-me")
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=["127.0.0.1", "localhost"])

# An empty DATABASE_URL (as in a copied .env.example) counts as unset.
DATABASES = {"default": env.db_url_config(env("DATABASE_URL", default="") or f"sqlite:///{BASE_DIR / 'db.sqlite3'}")}
DATABASES["default"]["ATOMIC_REQUESTS"] = False  # services own their transactions
DATABASES["default"]["CONN_MAX_AGE"] = env.int("DATABASE_CONN_MAX_AGE", default=0)
# The order intake's hot reads are PREPAREd on the PostgreSQL server (core.prepared): off behind a pooler that
# shares server sessions between clients (PgBouncer in transaction mode).
PREPARED_SELECTS_ON_SERVER = env.bool("DATABASE_SERVER_PREPARE", default=True)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "drf_spectacular",
    "allauth",
    "allauth.account",
    "simple_history",
    "core",
    "members",
    "rewards",
    "referrals",
    "accounting",
    "insights",
    "notifications",
    "integrations",
    "webhooks",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "simple_history.middleware.HistoryRequestMiddleware",  # records the staff user behind a configuration change
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "allauth.account.middleware.AccountMiddleware",
]

ROOT_URLCONF = "loyalty_site.urls"
WSGI_APPLICATION = "loyalty_site.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "core.context_processors.program",
            ],
        },
    },
]

AUTH_USER_MODEL = "members.User"
AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "allauth.account.auth_backends.AuthenticationBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_REDIRECT_URL = "members:dashboard"
LOGIN_URL = "account_login"

# django-allauth: e-mail is the login; verification is mandatory in production (see production.py).
ACCOUNT_USER_MODEL_USERNAME_FIELD = None
ACCOUNT_LOGIN_METHODS = {"email"}
ACCOUNT_SIGNUP_FIELDS = ["email*", "password1*", "password2*"]
ACCOUNT_EMAIL_VERIFICATION = env("ACCOUNT_EMAIL_VERIFICATION", default="optional")
ACCOUNT_UNIQUE_EMAIL = True
ACCOUNT_LOGOUT_ON_PASSWORD_CHANGE = False
ACCOUNT_ADAPTER = "members.adapters.AccountAdapter"
ACCOUNT_FORMS = {"signup": "members.forms.SignupForm"}
ACCOUNT_RATE_LIMITS = {
    "login_failed": "10/m/ip,5/5m/key",
    "signup": "20/h/ip",
    "reset_password": "20/m/ip,5/m/key",
    "confirm_email": "1/3m/key",
}

LANGUAGE_CODE = "en"
TIME_ZONE = "UTC"  # storage; the program's own time zone decides "end of month"
USE_I18N = True
USE_TZ = True
LOCALE_PATHS = [BASE_DIR / "locale"]

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
MEDIA_ROOT = env.path("MEDIA_ROOT", default=BASE_DIR / "media")
MEDIA_URL = "media/"

EMAIL_BACKEND = env("EMAIL_BACKEND", default="django.core.mail.backends.console.EmailBackend")
DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL", default="loyalty@localhost")
# The member pages' address, for links in e-mails sent outside a request (referral invitations).
SITE_URL = env("SITE_URL", default="http://localhost:8000")
EMAIL_HOST = env("EMAIL_HOST", default="localhost")
EMAIL_PORT = env.int("EMAIL_PORT", default=587)
EMAIL_HOST_USER = env("EMAIL_HOST_USER", default="")
EMAIL_HOST_PASSWORD = env("EMAIL_HOST_PASSWORD", default="")
EMAIL_USE_TLS = env.bool("EMAIL_USE_TLS", default=True)

CACHES = {"default": env.cache_url_config(env("CACHE_URL", default="") or "locmemcache://")}

# Celery: no broker configured means tasks run eagerly in-process (the zero-config default).
CELERY_BROKER_URL = env("CELERY_BROKER_URL", default="")
CELERY_TASK_ALWAYS_EAGER = not CELERY_BROKER_URL
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_ACKS_LATE = True  # a task killed mid-way is redelivered; every task is idempotent
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TIMEZONE = "UTC"
CELERY_BEAT_SCHEDULE = {
    # Member emails: collect the events of the last minute, then send what is due (docs/emails.md).
    "member-emails": {"task": "notifications.tasks.emails_run", "schedule": crontab(minute="*")},
    "release-pending-points": {
        "task": "rewards.tasks.lots_release_due",
        "schedule": crontab(minute="*/10"),
    },
    "expire-points": {
        "task": "rewards.tasks.lots_expire_due",
        "schedule": crontab(minute=15),
    },
    # Daily work, run hourly: members get it soon after midnight in the program's time zone, whatever that
    # zone is, and a missed run is caught up; each member gets it once a year.
    "birthday-points": {
        "task": "rewards.tasks.birthday_points_award",
        "schedule": crontab(minute=5),
    },
    # Tiers: hourly, each acts only in its local hour (rewards.tasks): the nightly re-evaluation, the dividends.
    "tiers-recalculate": {
        "task": "rewards.tasks.tiers_recalculate_nightly",
        "schedule": crontab(minute=20),
    },
    "tier-dividends": {
        "task": "rewards.tasks.tier_dividends_pay",
        "schedule": crontab(minute=25),
    },
    "referral-rewards-release": {
        "task": "referrals.tasks.referral_rewards_release",
        "schedule": crontab(minute="*/10"),
    },
    "webhooks-requeue-due": {
        "task": "webhooks.tasks.webhooks_requeue_due",
        "schedule": crontab(minute="*"),
    },
    "accounting-journal-post": {  # the journal derived from the ledger (docs/accounting.md)
        "task": "accounting.tasks.journal_post",
        "schedule": crontab(minute="*/5"),
    },
    "webhooks-points-expiring": {
        "task": "webhooks.tasks.points_expiring_publish",
        "schedule": crontab(hour=6, minute=30),
    },
    # Insights: yesterday's and today's rollups every hour; the member scores once a night (insights.tasks).
    "insights-refresh": {
        "task": "insights.tasks.insights_refresh_hourly",
        "schedule": crontab(minute=40),
    },
}

# Webhooks (docs/webhooks.md). Deliveries time out after WEBHOOK_TIMEOUT seconds and are retried with backoff
# until WEBHOOK_RETRY_HOURS after the event. Private, loopback and link-local targets are refused unless
# WEBHOOK_ALLOW_PRIVATE_TARGETS (on in DEBUG; webhooks tests turn it on to deliver to a server on 127.0.0.1).
WEBHOOK_TIMEOUT = env.float("WEBHOOK_TIMEOUT", default=5.0)
WEBHOOK_RETRY_HOURS = env.int("WEBHOOK_RETRY_HOURS", default=24)
WEBHOOK_EXPIRING_DAYS = env.int("WEBHOOK_EXPIRING_DAYS", default=14)
EMAIL_EXPIRING_DAYS = env.int("EMAIL_EXPIRING_DAYS", default=14)  # the points-expiring email, days ahead
WEBHOOK_ALLOW_PRIVATE_TARGETS = env.bool("WEBHOOK_ALLOW_PRIVATE_TARGETS", default=DEBUG)

REST_FRAMEWORK = {
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "core.api.exception_handler",
    "DEFAULT_PAGINATION_CLASS": "core.api.Pagination",
    "PAGE_SIZE": 50,
    "DEFAULT_AUTHENTICATION_CLASSES": [],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "UNAUTHENTICATED_USER": None,
}
# Requests per shop API key (integrations.api_auth.ApiKeyRateThrottle), counted in the cache above:
# <count>/<period>, e.g. 600/min, 20/s, 10000/hour.
API_RATE_LIMIT = env("API_RATE_LIMIT", default="600/min")
# Requests per storefront widget key and shopper address (integrations/widget_auth.py).
WIDGET_RATE_LIMIT = env("WIDGET_RATE_LIMIT", default="120/min")
# Seconds each web process keeps the active earning rules and which shops have no webhook endpoints
# (core.process_cache); a change made in another process applies within them. 0: read them on every use.
CONFIG_CACHE_SECONDS = env.float("CONFIG_CACHE_SECONDS", default=5.0)
SPECTACULAR_SETTINGS = {
    "TITLE": "Loyalty platform API",
    "DESCRIPTION": "REST API v1 for shops: members, orders, rewards and coupons.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SCHEMA_PATH_PREFIX": r"/api/v1",
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", default="INFO")},
}
