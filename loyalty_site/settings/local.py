"""Local development: DEBUG on, everything else from the environment or the zero-config defaults."""

import warnings

from .base import *  # noqa: F403
from .base import env

# Locally WhiteNoise serves straight from the static folders; STATIC_ROOT exists only after collectstatic.
warnings.filterwarnings("ignore", message="No directory at", category=UserWarning)

DEBUG = env.bool("DJANGO_DEBUG", default=True)
