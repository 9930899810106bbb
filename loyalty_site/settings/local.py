"""Local development: DEBUG on, everything else from the environment or the zero-config defaults."""

from .base import *  # noqa: F403
from .base import env

DEBUG = env.bool("DJANGO_DEBUG", default=True)
