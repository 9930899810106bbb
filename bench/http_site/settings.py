"""Production's settings (DEBUG off, Redis cache, persistent connections) with the bench's URLs.

bench/http_intake.py passes what production requires in the environment (DJANGO_SECRET_KEY,
DJANGO_ALLOWED_HOSTS, DATABASE_URL, CELERY_BROKER_URL, CACHE_URL) and raises API_RATE_LIMIT far above the
load, so the rate limit is counted in Redis on every request as in production but never throttles.
BENCH_STATIC_ROOT, when set, is where the bench ran collectstatic (bench/rewards_reads.py: member pages
need the static files' manifest, as after a deploy).
"""

import os
import warnings

from loyalty_site.settings.production import *  # noqa: F403

# WhiteNoise warns in every worker that STATIC_ROOT is missing: the bench runs no collectstatic.
warnings.filterwarnings("ignore", "No directory at", UserWarning)
ROOT_URLCONF = "http_site.urls"
STATIC_ROOT = os.environ.get("BENCH_STATIC_ROOT") or STATIC_ROOT  # noqa: F405
