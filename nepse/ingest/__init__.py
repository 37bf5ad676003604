"""Ingestion: quality rules, the ingest service, backfill planning, freshness."""
