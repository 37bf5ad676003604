"""The model stage: one LightGBM fit procedure, its walk-forward evaluation and the registry.

- `lgbm`: `LGBModel` (fit slice -> early stopping -> best iteration -> calibration), params.
- `final`: `train_final` and `TrainedModel` (the deployable model: predict, save, load).
- `files`: checksums of saved model files, verified before LightGBM reads them.
- `data`: panel checks, feature matrix, training target, calendar helpers.
- `plan` -> `blocks` -> `summary`: the walk-forward as a block plan, one block's fits, the
  result; `walkforward` runs them serially, `fanout` as jobs for an orchestrator (Dask),
  `checkpoint` persists each fit so a crashed run resumes.
- `baselines`, `metrics`, `report`, `card`: what the model is compared with and how.
- `registry`: versions, promotion rule and rollback over the store's `models` table.
- `training`: walk-forward + final model + registration, end to end.
"""
