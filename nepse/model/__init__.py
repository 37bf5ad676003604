"""The model stage: one LightGBM fit procedure, its walk-forward evaluation and the registry.

- `lgbm`: `LGBModel` (fit slice -> early stopping -> best iteration -> calibration), params.
- `final`: `train_final` and `TrainedModel` (the deployable model: predict, save, load).
- `files`: checksums of saved model files, verified before LightGBM reads them.
- `data`: panel checks, feature matrix, training target, calendar helpers.
- `segments`: a fit's window, fit slice, embargo and validation slice (final model and every
  walk-forward block).
- `walkforward/`: the walk-forward: plan -> jobs (run in this process or on Dask workers,
  carrying their data) -> checkpoint -> summary, by one driver (`walk_forward`).
- `baselines`, `metrics`, `report`, `card`: what the model is compared with and how.
- `costs`, `backtest`: NEPSE trading costs and the long-only top-k backtest (T+2, limit locks,
  turnover cap), every rule from the dated registry `nepse.market.rules`.
- `evaluate`: stored past days scored with a registered model (no predictions written), judged
  per label (tradeable first) and by the backtest; `nepse evaluate`.
- `registry`: versions, promotion rule and rollback over the store's `models` table.
- `training`: walk-forward + final model + registration, end to end (`nepse.app.training`
  adds what monitoring reads to the model folder).
"""
