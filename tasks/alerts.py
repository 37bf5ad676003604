"""Alerts and champion changes the Prefect way: in the run's logs and as Prefect events.

Nothing here notifies anybody: the automations of automations.yaml ('nepse alert', 'nepse
model promoted or rolled back') route the events to a notification block on the server.
"""

from __future__ import annotations

import logging

from prefect import task
from prefect.logging import get_run_logger

from nepse.app import events
from nepse.app.publish import Alert
from runs.events import emit, run_info

LEVELS = {"info": logging.INFO, "warning": logging.WARNING, "error": logging.ERROR}


@task(name="raise-alerts")
def raise_alerts(alerts: list[Alert]) -> int:
    """Write each alert to the run's logs at its level and emit it as `nepse.alert.<kind>`."""
    log = get_run_logger()
    run = run_info()
    for alert in alerts:
        log.log(LEVELS[alert.level], "ALERT [%s] %s", alert.level, events.alert_text(alert, run))
        emit(events.alert_event(alert, run))
    if alerts:
        log.info("%d alert(s) emitted as Prefect events nepse.alert.*", len(alerts))
    return len(alerts)
