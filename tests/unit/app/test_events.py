"""The events a run emits: names, resources, payloads and the texts people read."""

from __future__ import annotations

import json
from datetime import date

from nepse.app import events
from nepse.app.events import PROMOTED, ROLLED_BACK, ModelChange, RunInfo
from nepse.monitoring.alerts import Alert

RUN = RunInfo("0b6e5a1c-0000-4000-8000-000000000001", "daily-2026-04-02", "http://ui/runs/x")
DAY = date(2026, 4, 2)


def test_an_alert_event_names_its_kind_and_is_about_the_trading_day():
    alert = Alert(
        "drift",
        "drift alarm",
        "mean shift 0.41 beyond its alarm line 0.32",
        day=DAY,
        model_version="lgbm-20260401",
        numbers={"mean shift value": 0.41, "mean shift alarm line": 0.32, "when": DAY},
    )
    spec = events.alert_event(alert, RUN)
    assert spec.event == "nepse.alert.drift"
    assert spec.resource["prefect.resource.id"] == "nepse.daily.2026-04-02"
    assert spec.resource["nepse.model-version"] == "lgbm-20260401"
    assert spec.payload["numbers"] == {
        "mean shift value": 0.41,
        "mean shift alarm line": 0.32,
        "when": "2026-04-02",
    }
    json.dumps(spec.payload)  # the payload travels as JSON
    # What a Slack reader sees: which day, which model, what, and where the run is.
    text = spec.payload["text"]
    for part in ("2026-04-02", "lgbm-20260401", "0.41 beyond", "http://ui/runs/x"):
        assert part in text, text
    assert spec.payload["subject"] == "NEPSE warning: drift alarm (2026-04-02, lgbm-20260401)"


def test_an_alert_before_the_day_is_known_says_so():
    alert = Alert("source", "price source failed", "HTTP 404", "error")
    spec = events.alert_event(alert, RunInfo())
    assert spec.resource["prefect.resource.id"] == "nepse.daily.unknown"
    assert "day not known yet" in spec.payload["text"] and "Run " not in spec.payload["text"]


def test_model_changes_are_events_about_the_model_with_an_artifact_text():
    change = ModelChange(PROMOTED, "v2", "v1", "beats the champion", "train-model", 0.031)
    spec = events.model_event(change, RUN)
    assert spec.event == "nepse.model.promoted"
    assert spec.resource["prefect.resource.id"] == "nepse.model.v2"
    assert spec.payload["previous"] == "v1" and "0.0310" in spec.payload["text"]
    back = events.model_event(ModelChange(ROLLED_BACK, "v1", "v2", "bad", "cli"), RunInfo())
    assert back.event == "nepse.model.rolled-back" and "restored" in back.payload["text"]
    md = events.model_markdown(change, RUN)
    assert "`v2`" in md and "`v1`" in md and "(http://ui/runs/x)" in md
