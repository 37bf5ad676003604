"""SQL of the store's migrations 2-4 (daily run, drift, model registry).

Plain strings in a module without heavy imports: opening the store must not import LightGBM,
scikit-learn or pandas just to know its tables. A released migration is never edited.
"""

PREDICTIONS_DDL = """
CREATE TABLE predictions (
    date          DATE      NOT NULL,  -- the close after which the prediction is made (as_of)
    symbol        VARCHAR   NOT NULL,
    model_version VARCHAR   NOT NULL,  -- the model that actually made this prediction
    model_role    VARCHAR   NOT NULL,  -- champion | previous_champion | naive_baseline
    pred_ret      DOUBLE,              -- predicted next-trading-day adjusted return
    pred_rank     DOUBLE,              -- cross-sectional percentile of pred_ret that day (1 = top)
    flow_run_id   VARCHAR,
    created_at    TIMESTAMP NOT NULL,
    PRIMARY KEY (date, symbol)
);
CREATE TABLE performance_daily (
    date            DATE      NOT NULL PRIMARY KEY,  -- prediction date whose outcome is known
    model_version   VARCHAR   NOT NULL,
    n               INTEGER   NOT NULL,
    ic              DOUBLE,
    rank_ic         DOUBLE,
    rmse            DOUBLE,
    mae             DOUBLE,
    dir_acc         DOUBLE,
    top_bottom      DOUBLE,
    rolling_ic      DOUBLE,   -- mean of the last 20 evaluated days (this one included)
    rolling_rank_ic DOUBLE,
    rolling_rmse    DOUBLE,   -- pooled RMSE over the last 20 evaluated days
    evaluated_at    TIMESTAMP NOT NULL
);
"""
"""Tables of the daily run (applied as a store migration)."""

DRIFT_DDL = """
CREATE TABLE IF NOT EXISTS drift_reports (
    date             DATE        NOT NULL,
    model_version    VARCHAR     NOT NULL,
    share_drifted    DOUBLE      NOT NULL,
    dataset_drift    BOOLEAN     NOT NULL,
    n_drifted        INTEGER     NOT NULL,
    n_columns        INTEGER     NOT NULL,
    drifted_columns  VARCHAR     NOT NULL,  -- JSON list of {column, method, score}
    prediction_drift VARCHAR,               -- JSON {column, method, score, threshold, drifted}
    html_path        VARCHAR     NOT NULL,
    created_at       TIMESTAMPTZ NOT NULL DEFAULT current_timestamp,
    PRIMARY KEY (date, model_version)
)
"""
"""DuckDB table of one drift summary per (scoring day, model version)."""

MODELS_DDL = """
CREATE TABLE IF NOT EXISTS models (
    version           VARCHAR PRIMARY KEY,
    created_at        TIMESTAMP NOT NULL,
    status            VARCHAR NOT NULL CHECK (status IN ('candidate', 'champion', 'retired')),
    train_start       DATE,
    train_end         DATE,
    as_of             DATE,
    data_fingerprint  VARCHAR,
    feature_spec      JSON,
    params            JSON,
    library_versions  JSON,
    metrics           JSON,
    baseline_metrics  JSON,
    rank_ic           DOUBLE,
    path              VARCHAR NOT NULL,
    reason            VARCHAR,
    promoted_at       TIMESTAMP,
    previous_champion VARCHAR
);
"""
