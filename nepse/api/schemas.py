"""The API's answers as OpenAPI shows them: one model per kind of answer, each with an example.

The routes render their bodies themselves (cached bytes; see render.py); these models document
what those bodies hold, and tests check real answers against them.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

AS_OF = date(2026, 11, 20)
VERSION = "20261118-093012-4f2a9c"
RUN_ID = "0b6f4a8e-5c1d-4e57-9d0b-2f8c7f3e1a42"
PUBLISHED_AT = datetime(2026, 11, 20, 9, 31, 5)


def _example(**fields: Any) -> ConfigDict:
    return ConfigDict(json_schema_extra={"examples": [fields]})


class Envelope(BaseModel):
    """What every answer says about itself."""

    as_of: date | None = Field(description="The trading day the answer describes (its close).")
    model_version: str | None = Field(description="The model that made the day's predictions.")
    flow_run_id: str | None = Field(description="The Prefect flow run that published the day.")


class Paged(Envelope):
    """A page of a long list: `next` is the URL of the following page (null on the last)."""

    total: int = Field(description="Rows in the whole list.")
    offset: int
    limit: int
    next: str | None = Field(description="URL of the next page, or null.")


class Prediction(BaseModel):
    """One stock's prediction: its predicted return and its rank among the day's stocks."""

    date: date
    symbol: str
    model_version: str
    model_role: str = Field(description="champion, or the fallback that scored the day.")
    pred_ret: float = Field(
        description="Predicted return over the model's label (by default: buy at the next "
        "session's VWAP, sell at the VWAP 5 sessions later; the model card says which)."
    )
    pred_rank: float = Field(description="Rank of pred_ret among the day's stocks, 0..1 (1: top).")
    flow_run_id: str | None
    created_at: datetime


_ROW = {
    "date": AS_OF,
    "symbol": "NABIL",
    "model_version": VERSION,
    "model_role": "champion",
    "pred_ret": 0.0123,
    "pred_rank": 0.996,
    "flow_run_id": RUN_ID,
    "created_at": PUBLISHED_AT,
}
_HEAD = {"as_of": AS_OF, "model_version": VERSION, "flow_run_id": RUN_ID}


class Predictions(Paged):
    """A day's predictions, best first (all symbols, or one)."""

    model_config = _example(
        **_HEAD,
        published_at=PUBLISHED_AT,
        latest=True,
        stale=False,
        expected_session=AS_OF,
        total=1,
        offset=0,
        limit=500,
        next=None,
        data=[_ROW],
    )
    published_at: datetime
    latest: bool = Field(description="True when this is the newest published day.")
    stale: bool | None = Field(
        description="Latest only: true when the market calendar expected a later session by now "
        "(today's run has not published yet); null for a day asked by date."
    )
    expected_session: date | None = Field(
        description="Latest only: the session the calendar expected to be published by now."
    )
    data: list[Prediction]


class Table(Paged):
    """Rows of a day's orders or paper ledger, as the daily run published them."""

    model_config = _example(
        **_HEAD,
        published_at=PUBLISHED_AT,
        total=1,
        offset=0,
        limit=500,
        next=None,
        data=[{"symbol": "NABIL", "side": "buy", "shares": 100}],
    )
    published_at: datetime
    data: list[dict[str, Any]]


class Day(BaseModel):
    """One published day."""

    as_of: date
    publication: str
    model_version: str
    model_role: str
    flow_run_id: str | None
    n: int = Field(description="Predictions of the day.")
    published_at: datetime


class Days(Paged):
    """Every published day, newest first."""

    model_config = _example(
        **_HEAD,
        total=1,
        offset=0,
        limit=500,
        next=None,
        data=[
            {
                "as_of": AS_OF,
                "publication": "days/2026-11-20/20261120T093105000000Z-1a2b3c4d",
                "model_version": VERSION,
                "model_role": "champion",
                "flow_run_id": RUN_ID,
                "n": 248,
                "published_at": PUBLISHED_AT,
            }
        ],
    )
    data: list[Day]


class Link(BaseModel):
    """A page about the day: `drift_report` (Evidently's) or `report_index`."""

    rel: str
    url: str


class Drift(Envelope):
    """The day's calibrated drift verdict and links to its pages."""

    model_config = _example(
        **_HEAD,
        published_at=PUBLISHED_AT,
        drift={
            "verdict": "ok",
            "dataset_drift": False,
            "share_drifted": 0.08,
            "n_drifted": 3,
            "n_columns": 38,
            "drifted_columns": [{"column": "f_ret_5", "method": "z", "score": 4.1}],
            "prediction_drift": None,
            "alarms": [{"name": "feature drift", "value": 0.21, "threshold": 0.35, "alarm": False}],
            "error": None,
            "links": [
                {"rel": "drift_report", "url": "http://127.0.0.1:8765/2026-11-20/drift-v.html"}
            ],
        },
    )
    published_at: datetime
    drift: dict[str, Any] = Field(
        description="verdict (ok, alarm), dataset_drift, share_drifted, the drifted columns, "
        "the calibrated alarms, error (when the page failed) and links."
    )


class Models(Envelope):
    """The model registry as of its last change, newest first; model_version is the champion."""

    model_config = _example(
        **_HEAD,
        published_at=PUBLISHED_AT,
        champion=VERSION,
        data=[{"version": VERSION, "status": "champion", "rank_ic": 0.104, "train_end": AS_OF}],
    )
    published_at: datetime | None
    champion: str | None
    data: list[dict[str, Any]]


class Model(Envelope):
    """One registered model and its card (Markdown)."""

    model_config = _example(
        **_HEAD,
        published_at=PUBLISHED_AT,
        model={"version": VERSION, "status": "champion", "rank_ic": 0.104},
        card="# Model 20261118-093012-4f2a9c\n...",
    )
    published_at: datetime | None
    model: dict[str, Any]
    card: str | None


class RunState(BaseModel):
    """The last state the daily flow's latest run reached (recorded by its state hooks)."""

    flow_name: str
    flow_run_id: str
    flow_run_name: str
    state_type: str
    state_name: str
    message: str | None
    as_of: date | None
    at: datetime


class Health(Envelope):
    """Is the newest published day the one the market calendar expects, and who scored it."""

    model_config = _example(
        **_HEAD,
        status="ok",
        published_at=PUBLISHED_AT,
        stale=False,
        expected_session=AS_OF,
        missed_sessions=0,
        champion=VERSION,
        days_published=120,
        last_run={
            "flow_name": "daily-predictions",
            "flow_run_id": RUN_ID,
            "flow_run_name": "daily-2026-11-20",
            "state_type": "COMPLETED",
            "state_name": "Completed",
            "message": None,
            "as_of": None,
            "at": PUBLISHED_AT,
        },
    )
    status: str = Field(description="ok, stale (a session is missing) or empty (none published).")
    published_at: datetime | None
    stale: bool | None
    expected_session: date | None
    missed_sessions: int | None
    champion: str | None = Field(description="The registry's champion now.")
    days_published: int
    last_run: RunState | None


class Problem(Envelope):
    """Why an answer is not there (404) or not allowed (401, 405, 422)."""

    model_config = _example(
        **_HEAD,
        detail="the daily run of 2026-11-20 published no orders; orders are published once "
        "the portfolio layer makes them",
    )
    detail: Any
