"""Monitoring: drift, realised performance, alerts, report pages."""
