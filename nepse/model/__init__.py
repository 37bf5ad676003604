"""The model: LightGBM model, baselines, walk-forward, metrics, registry, training."""
