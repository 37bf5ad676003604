"""Every table of the store, created by numbered migrations applied in order on a writable open.

`MIGRATIONS` is an ordered list of (version, SQL) numbered 1, 2, 3, ... without gaps. A writable
open applies the versions not yet recorded in `schema_migrations`; a read-only open of an
outdated database refuses with a message saying to run a writing command first. To add tables
or columns, append `(next_version, "...")`; never edit an applied entry.

Plain strings in a module without heavy imports: opening the store imports no ML library.
"""

from __future__ import annotations

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


PAPER_DDL = """
CREATE TABLE paper_ledger (
    date          DATE      NOT NULL PRIMARY KEY,  -- the session filled and marked
    nav           DOUBLE    NOT NULL,  -- cash + holdings at the session's close, rupees
    nav_gross     DOUBLE    NOT NULL,  -- nav + every cost paid since the start (added back)
    cash          DOUBLE    NOT NULL,
    invested      DOUBLE    NOT NULL,  -- share of nav in holdings
    n_holdings    INTEGER   NOT NULL,
    traded        DOUBLE    NOT NULL,  -- rupees bought and sold in the session
    turnover      DOUBLE    NOT NULL,  -- traded / the previous session's nav
    costs         DOUBLE    NOT NULL,  -- commission, SEBON fee, DP charges, CGT of the session
    ret           DOUBLE,              -- nav / previous nav - 1 (null on the first row)
    ret_gross     DOUBLE,              -- nav_gross / previous nav_gross - 1
    bench_ew      DOUBLE,              -- equal-weighted universe, close to close
    bench_tw      DOUBLE,              -- turnover-weighted market proxy
    n_orders      INTEGER   NOT NULL,  -- buy and sell orders of the previous evening
    n_filled      INTEGER   NOT NULL,  -- of which filled at least in part
    decided       BOOLEAN   NOT NULL,  -- the portfolio decided after this close
    orders_note   VARCHAR,             -- what the orders for the next session say
    capital       DOUBLE    NOT NULL,  -- the configured starting capital
    model_version VARCHAR,             -- the model whose predictions decided (null: none)
    run_id        VARCHAR,
    created_at    TIMESTAMP NOT NULL
);
CREATE TABLE paper_holdings (
    date      DATE    NOT NULL,  -- after this session's close
    symbol    VARCHAR NOT NULL,
    bought_on DATE    NOT NULL,  -- the lot's buy session (settlement, tax)
    shares    DOUBLE  NOT NULL,
    basis     DOUBLE  NOT NULL,  -- purchase value + purchase costs, rupees
    close     DOUBLE,            -- last known close at `date`
    PRIMARY KEY (date, symbol, bought_on)
);
CREATE TABLE paper_trades (
    date    DATE    NOT NULL,  -- the session the order was sent to
    symbol  VARCHAR NOT NULL,
    side    VARCHAR NOT NULL CHECK (side IN ('buy', 'sell')),
    ordered DOUBLE  NOT NULL,  -- shares asked
    shares  DOUBLE  NOT NULL,  -- shares filled (0: none)
    price   DOUBLE,            -- fill price (the session's VWAP or close)
    value   DOUBLE  NOT NULL,
    cost    DOUBLE  NOT NULL,
    reason  VARCHAR,           -- why less than asked filled ('' = all)
    PRIMARY KEY (date, symbol, side)
);
CREATE TABLE paper_orders (
    date          DATE    NOT NULL,  -- made after this session's close, for the next session
    symbol        VARCHAR NOT NULL,
    side          VARCHAR NOT NULL CHECK (side IN ('buy', 'sell', 'hold')),
    shares        DOUBLE  NOT NULL,  -- shares to trade (0 for hold)
    ref_price     DOUBLE,            -- the close of `date`
    target_shares DOUBLE,            -- shares the target asks (null: leaving the target)
    note          VARCHAR,
    PRIMARY KEY (date, symbol)
);
"""
"""Issue 27: the paper-trading record (nepse/store/paper.py, nepse/portfolio/paper.py)."""


MIGRATIONS: list[tuple[int, str]] = [
    (
        1,
        """
        CREATE TABLE prices (
            symbol      VARCHAR   NOT NULL,
            date        DATE      NOT NULL,
            open        DOUBLE,
            high        DOUBLE,
            low         DOUBLE,
            close       DOUBLE    NOT NULL,
            volume      DOUBLE,
            turnover    DOUBLE,
            trades      BIGINT,
            source      VARCHAR,
            flag        VARCHAR,            -- null | ohlc_repaired | beyond_limit
            repaired    BOOLEAN   NOT NULL DEFAULT false,
            ingested_at TIMESTAMP NOT NULL, -- UTC
            run_id      VARCHAR   NOT NULL,
            PRIMARY KEY (symbol, date)
        );
        CREATE TABLE rejected_prices (
            run_id      VARCHAR   NOT NULL,
            source      VARCHAR,
            line        BIGINT,
            raw         VARCHAR,
            reason      VARCHAR   NOT NULL,
            detail      VARCHAR,
            ingested_at TIMESTAMP NOT NULL
        );
        CREATE TABLE securities (
            symbol          VARCHAR PRIMARY KEY,
            name            VARCHAR,
            sector          VARCHAR,
            instrument_type VARCHAR,
            status          VARCHAR,
            updated_at      TIMESTAMP NOT NULL
        );
        CREATE TABLE corporate_actions (
            symbol            VARCHAR NOT NULL,
            kind              VARCHAR NOT NULL CHECK (kind IN ('bonus', 'rights', 'cash')),
            percent           DOUBLE,
            ratio             VARCHAR,
            issue_price       DOUBLE,
            book_closure_date DATE,
            fiscal_year       VARCHAR,
            source            VARCHAR,
            updated_at        TIMESTAMP NOT NULL
        );
        CREATE TABLE ingestion_runs (
            run_id      VARCHAR PRIMARY KEY,
            source      VARCHAR,
            fmt         VARCHAR,
            rows_read   BIGINT NOT NULL,
            inserted    BIGINT NOT NULL,
            updated     BIGINT NOT NULL,
            unchanged   BIGINT NOT NULL,
            rejected    BIGINT NOT NULL,
            duplicates  BIGINT NOT NULL,
            started_at  TIMESTAMP NOT NULL,
            finished_at TIMESTAMP NOT NULL,
            status      VARCHAR NOT NULL,
            min_date    DATE,
            max_date    DATE,
            symbols     BIGINT NOT NULL
        );
        """,
    ),
    (2, PREDICTIONS_DDL),
    (3, DRIFT_DDL),
    (4, MODELS_DDL),
    (
        5,
        """
        CREATE TABLE ingested_days (
            date        DATE      NOT NULL,
            source      VARCHAR   NOT NULL,   -- 'api' or the recorded folder backfilled from
            status      VARCHAR   NOT NULL
                        CHECK (status IN ('ok', 'holiday', 'not_yet', 'market_open', 'failed')),
            run_id      VARCHAR,              -- ingestion_runs.run_id of an 'ok' day
            rows_read   BIGINT,
            pages       INTEGER,
            raw_dir     VARCHAR,              -- where the raw API pages of the day were saved
            recorded_at TIMESTAMP NOT NULL,   -- UTC
            PRIMARY KEY (date, source)
        );
        """,
    ),
    (
        6,
        # Source-aware prices (nepse/store/observations.py): every source's rows as received,
        # append-only (a correction supersedes, never deletes); `prices` is resolved from the
        # current observations. Rows stored before this version become observations of kind
        # 'stored', the lowest precedence, so nothing already held is lost.
        """
        CREATE TABLE price_observations (
            symbol        VARCHAR   NOT NULL,
            date          DATE      NOT NULL,
            open          DOUBLE,
            high          DOUBLE,
            low           DOUBLE,
            close         DOUBLE    NOT NULL,
            volume        DOUBLE,
            turnover      DOUBLE,
            trades        BIGINT,
            kind          VARCHAR   NOT NULL,  -- source kind: nepse_api, sharesansar_prices, ...
            source        VARCHAR,             -- file or URL
            line          BIGINT,              -- line in the file / record in the answer
            repaired      BOOLEAN   NOT NULL DEFAULT false,
            run_id        VARCHAR   NOT NULL,
            ingested_at   TIMESTAMP NOT NULL,  -- UTC
            superseded_by VARCHAR              -- run_id of the correction; null = current
        );
        INSERT INTO price_observations
        SELECT symbol, date, open, high, low, close, volume, turnover, trades, 'stored', source,
               NULL, repaired, run_id, ingested_at, NULL
        FROM prices;
        CREATE TABLE price_conflicts (
            symbol      VARCHAR   NOT NULL,
            date        DATE      NOT NULL,
            "column"    VARCHAR   NOT NULL,
            kind        VARCHAR   NOT NULL,  -- the kind whose value `prices` holds
            value       DOUBLE,
            other_kind  VARCHAR   NOT NULL,  -- a kind that disagrees beyond the tolerance
            other_value DOUBLE,
            run_id      VARCHAR   NOT NULL,
            detected_at TIMESTAMP NOT NULL,
            PRIMARY KEY (symbol, date, "column", other_kind)
        );
        CREATE TABLE store_meta (
            key        VARCHAR PRIMARY KEY,  -- 'dataset': sample | real
            value      VARCHAR NOT NULL,
            updated_at TIMESTAMP NOT NULL
        );
        CREATE TABLE corporate_action_revisions (
            symbol            VARCHAR NOT NULL,
            kind              VARCHAR NOT NULL,
            percent           DOUBLE,
            ratio             VARCHAR,
            issue_price       DOUBLE,
            book_closure_date DATE,
            fiscal_year       VARCHAR,
            source            VARCHAR,
            updated_at        TIMESTAMP NOT NULL,  -- when the replaced version was stored
            revised_at        TIMESTAMP NOT NULL   -- when it was replaced
        );
        ALTER TABLE ingested_days RENAME TO ingested_days_v5;
        CREATE TABLE ingested_days (
            date        DATE      NOT NULL,
            source      VARCHAR   NOT NULL,
            status      VARCHAR   NOT NULL CHECK (status IN
                        ('ok', 'holiday', 'pending', 'not_yet', 'market_open', 'failed')),
            run_id      VARCHAR,
            rows_read   BIGINT,
            pages       INTEGER,
            raw_dir     VARCHAR,
            recorded_at TIMESTAMP NOT NULL,
            PRIMARY KEY (date, source)
        );
        INSERT INTO ingested_days SELECT * FROM ingested_days_v5;
        DROP TABLE ingested_days_v5;
        ALTER TABLE rejected_prices ADD COLUMN date DATE;
        """,
    ),
    (
        7,
        # Point-in-time securities master (nepse/store/security_history.py, issue 14).
        """
CREATE TABLE security_history (
    symbol          VARCHAR NOT NULL,
    name            VARCHAR,
    sector          VARCHAR,
    instrument_type VARCHAR,
    status          VARCHAR,            -- A active, S suspended, D delisted (NEPSE's codes)
    valid_from      DATE,               -- null: since before any list (inferred)
    valid_to        DATE,               -- null: still in force
    first_seen      DATE,               -- first list that showed this version (null: inferred)
    last_seen       DATE,               -- last list that showed it
    source          VARCHAR NOT NULL    -- the list's source, or 'inferred'
);
""",
    ),
    (
        8,
        # Issue 11 item 6 / issue 12: a realised day inside the scoring model's training window
        # is in-sample and kept out of every out-of-sample figure; drift rows keep the
        # calibrated verdicts (statistic, alarm line, where today sits in its history).
        """
        ALTER TABLE performance_daily ADD COLUMN in_sample BOOLEAN DEFAULT false;
        ALTER TABLE drift_reports ADD COLUMN alarms VARCHAR;
        """,
    ),
    (9, PAPER_DDL),
    (
        10,
        # Issue 26 item 8: a folder source re-reads only the files that changed since the last
        # ingestion (nepse/ingest/changes.py, nepse/store/source_files.py).
        """
CREATE TABLE source_files (
    path        VARCHAR   NOT NULL PRIMARY KEY,  -- absolute path of the file
    root        VARCHAR   NOT NULL,              -- the ingested folder it was found under
    size        BIGINT    NOT NULL,
    mtime_ns    BIGINT    NOT NULL,
    sha256      VARCHAR   NOT NULL,
    run_id      VARCHAR,                         -- the ingestion run that last read it
    ingested_at TIMESTAMP NOT NULL
);
""",
    ),
]

# Databases created before the versions were made contiguous recorded the ingested_days
# migration as 10; it is the same SQL as today's version 5.
LEGACY_VERSIONS: dict[int, int] = {10: 5}


def latest_version() -> int:
    """The schema version this code expects."""
    return MIGRATIONS[-1][0]


def check_contiguous(migrations: list[tuple[int, str]]) -> None:
    """Raise ValueError unless versions run 1, 2, 3, ... without gaps or repeats."""
    versions = [v for v, _ in migrations]
    if versions != list(range(1, len(versions) + 1)):
        raise ValueError(f"MIGRATIONS versions must be 1..n without gaps, got {versions}")
