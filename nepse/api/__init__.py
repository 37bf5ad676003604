"""The read-only predictions API (`nepse api`) and the published folder it serves.

The daily run publishes each scored day into `<data_dir>/published/` (`folder`: the layout and
its atomic writes; `nepse.app.snapshot`: the writer), and the API reads only that folder
(`reader`), never the DuckDB file, which one writer holds at a time. `app` builds the FastAPI
application, `server` runs it with uvicorn. This package's `__init__` imports nothing, so the
daily run's publish step does not import FastAPI.
"""
