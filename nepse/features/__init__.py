"""Features: corporate-action adjustment, feature steps and spec, labels, panels."""

from nepse.features.spec import *  # noqa: F403
from nepse.features.spec import FEATURE_SPEC, FULL_SPEC, FeatureSpec  # noqa: F401
from nepse.features.steps import *  # noqa: F403
from nepse.features.steps import build_features  # noqa: F401
