"""Features: corporate-action adjustment, feature steps and spec, labels, panels."""

from nepse.features.steps import *  # noqa: F403
from nepse.features.steps import FEATURE_SPEC, FULL_SPEC, FeatureSpec, build_features  # noqa: F401
