"""The loyalty engine's models, one module per part; import them from `rewards.models`.

Each module lists its models in `__all__`.
"""

from rewards.models.campaigns import *  # noqa: F403
from rewards.models.catalogue import *  # noqa: F403
from rewards.models.ledger import *  # noqa: F403
from rewards.models.rules import *  # noqa: F403
from rewards.models.tiers import *  # noqa: F403
