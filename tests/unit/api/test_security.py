"""Security: loopback by default, a key beyond it, no write route, no path out of the folder,
no secret in the logs, and no database opened by the API."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from nepse.api import folder
from nepse.api.security import check_bind, is_loopback
from nepse.errors import ConfigError
from tests.conftest import REPO
from tests.unit.api.conftest import KEY, VERSION, Running, client

MARKER = "TOP-SECRET-MARKER-0451"


def _urls(scored, app) -> list[str]:
    """Every GET route of the app with its parameters filled in."""
    symbol = "NABIL"
    fill = {"{day}": scored.days[-1].isoformat(), "{symbol}": symbol, "{version}": VERSION}
    urls = []
    for path in app.openapi()["paths"]:
        for k, v in fill.items():
            path = path.replace(k, v)
        urls.append(path)
    return [*urls, "/docs", "/redoc", "/openapi.json", "/static-offline-docs/swagger-ui.css"]


@pytest.mark.parametrize(
    ("host", "loopback"),
    [("127.0.0.1", True), ("127.0.0.2", True), ("::1", True), ("[::1]", True),
     ("localhost", True), ("0.0.0.0", False), ("::", False), ("10.0.0.5", False),
     ("api.example.org", False)],
)  # fmt: skip
def test_only_loopback_listens_without_a_key(host, loopback):
    assert is_loopback(host) is loopback
    if loopback:
        check_bind(host, None)
    else:
        with pytest.raises(ConfigError, match=r"refuses to listen.*NEPSE_API_KEY"):
            check_bind(host, None)
    check_bind(host, KEY)  # with a key any address may listen


def test_a_short_key_is_refused():
    with pytest.raises(ConfigError, match="at least 16"):
        check_bind("0.0.0.0", "short-key")


def test_with_a_key_every_data_route_requires_it(scored):
    c = client(scored, api_key=KEY)
    docs = {"/docs", "/redoc", "/openapi.json", "/static-offline-docs/swagger-ui.css"}
    for url in _urls(scored, c.app):
        bare = c.get(url)
        if url in docs:
            assert bare.status_code == 200, url  # the docs hold no data
            continue
        assert bare.status_code == 401, url
        assert bare.headers["www-authenticate"] == "Bearer"
        wrong = c.get(url, headers={"authorization": "Bearer " + KEY[:-1] + "x"})
        assert wrong.status_code == 401, url
        good = c.get(url, headers={"authorization": f"Bearer {KEY}"})
        assert good.status_code in (200, 404), (url, good.text)
        assert KEY not in good.text


def test_no_route_accepts_a_write(scored):
    for key in (None, KEY):
        c = client(scored, api_key=key)
        auth = {"authorization": f"Bearer {KEY}"} if key else {}
        urls = _urls(scored, c.app)
        assert len(urls) >= 18
        for url in urls:
            for method in ("POST", "PUT", "PATCH", "DELETE"):
                answer = c.request(method, url, headers=auth)
                assert answer.status_code == 405, (method, url, answer.status_code)
                assert "POST" not in answer.headers.get("allow", "")


TRAVERSALS = [
    "/predictions/../../../../etc/passwd",
    "/predictions/..%2F..%2F..%2F..%2Fetc%2Fpasswd",
    "/predictions/latest/..%2F..%2Foutside.txt",
    "/predictions/latest/../../outside.txt",
    "/predictions/2026-11-20/%2e%2e%2f%2e%2e%2foutside.txt",
    "/predictions/%2Fetc%2Fpasswd",
    "/predictions//etc/passwd",
    "//etc/passwd",
    "/models/..%2F..%2Foutside.txt",
    "/models/%2E%2E",
    "/drift/..%2F..%2Foutside.txt",
    "/orders/..%5C..%5Coutside.txt",
    "/static-offline-docs/..%2F..%2F..%2F..%2Fetc%2Fpasswd",
    "/static-offline-docs/../../../../../etc/passwd",
    "/predictions/0001-01-01",
    "/predictions/9999-12-31",
    "/predictions/2026-02-30",
    "/predictions/latest/" + "A" * 300,
]


def test_no_request_reaches_a_file_outside_the_published_folder(scored):
    from nepse.api.app import create_app

    (scored.data_dir / "outside.txt").write_text(MARKER)
    with Running(create_app(scored.settings())) as server:
        for path in TRAVERSALS:
            status, body = server.raw("GET", path)
            assert status in (400, 404, 405, 422), (path, status, body[:200])
            assert MARKER.encode() not in body and b"root:" not in body, path


def _latest_folder(scored) -> Path:
    index = json.loads((folder.published_root(scored.data_dir) / folder.INDEX).read_text())
    return folder.published_root(scored.data_dir) / index["days"][0]["publication"]


def test_a_symlink_inside_the_folder_pointing_out_is_refused(scored, caplog):
    import polars as pl

    outside = scored.data_dir / "outside.parquet"
    pl.DataFrame({"symbol": [MARKER]}).write_parquet(outside)
    target = _latest_folder(scored) / "predictions.parquet"
    target.unlink()
    target.symlink_to(outside)
    answer = client(scored).get("/predictions/latest")
    assert answer.status_code == 404
    assert answer.json()["detail"] == "not found in the published folder"
    assert MARKER not in answer.text
    assert "resolves outside" in caplog.text


def test_a_symlinked_index_and_a_tampered_entry_are_refused(scored):
    root = folder.published_root(scored.data_dir)
    index = json.loads((root / folder.INDEX).read_text())
    index["days"][0]["publication"] = "days/../../outside"
    (root / folder.INDEX).write_text(json.dumps(index))
    body = client(scored).get("/predictions/latest").json()
    assert body["as_of"] == scored.days[-2].isoformat()  # the tampered day is skipped
    moved = scored.data_dir / "index-outside.json"
    (root / folder.INDEX).rename(moved)
    (root / folder.INDEX).symlink_to(moved)
    assert client(scored).get("/predictions/latest").status_code == 404


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _env(scored, **extra) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEPSE_")}
    return {**env, "NEPSE_DATA_DIR": str(scored.data_dir), **extra}


def test_the_entry_point_refuses_to_listen_beyond_loopback_without_a_key(scored):
    result = subprocess.run(
        [sys.executable, "-m", "nepse.api"],
        env=_env(scored, NEPSE_API_LISTEN_HOST="0.0.0.0"),
        capture_output=True,
        text=True,
        timeout=120,
        cwd=REPO,
    )
    assert result.returncode == 2
    assert "refuses to listen on 0.0.0.0 without an API key" in result.stderr


def test_the_key_never_reaches_the_logs(scored):
    port = _free_port()
    env = _env(scored, NEPSE_API_KEY=KEY, NEPSE_API_LISTEN_PORT=str(port))
    proc = subprocess.Popen(
        [sys.executable, "-m", "nepse.api"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        cwd=REPO,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                urllib.request.urlopen(url + "/openapi.json", timeout=2).read()
                break
            except OSError:
                assert proc.poll() is None and time.monotonic() < deadline, "did not start"
                time.sleep(0.2)
        for key in (KEY, KEY + "-wrong", ""):
            request = urllib.request.Request(
                url + "/predictions/latest?format=csv", headers={"Authorization": f"Bearer {key}"}
            )
            try:
                status = urllib.request.urlopen(request, timeout=10).status
            except urllib.error.HTTPError as exc:
                status = exc.code
            assert status == (200 if key == KEY else 401)
    finally:
        proc.terminate()
        out = proc.communicate(timeout=30)[0].decode()
    assert "GET /predictions/latest?format=csv" in out and "API key required" in out
    assert KEY not in out


def test_the_api_process_never_loads_the_database_driver(scored):
    code = (
        "import sys\n"
        "from fastapi.testclient import TestClient\n"
        "from nepse.api.app import create_app\n"
        "from nepse.api.server import serve\n"
        "from nepse.settings import load_settings\n"
        "c = TestClient(create_app(load_settings()))\n"
        "assert c.get('/predictions/latest').status_code == 200\n"
        "assert c.get('/health').status_code == 200\n"
        "bad = [m for m in sys.modules\n"
        "       if m == 'duckdb' or m.startswith(('nepse.store', 'prefect'))]\n"
        "print(bad); sys.exit(1 if bad else 0)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], env=_env(scored), capture_output=True, text=True, cwd=REPO
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_cli_reads_the_key_from_a_prefect_secret_block(scored, monkeypatch):
    from prefect.blocks import system

    from flows.cli.api import api_settings

    class FakeSecret:
        def get(self):
            return KEY

    asked = []
    monkeypatch.setattr(
        system.Secret, "load", classmethod(lambda cls, n: asked.append(n) or FakeSecret())
    )
    for k in [k for k in os.environ if k.startswith("NEPSE_")]:
        monkeypatch.delenv(k)
    monkeypatch.setenv("NEPSE_DATA_DIR", str(scored.data_dir))
    monkeypatch.setenv("NEPSE_API_KEY_BLOCK", "nepse-api-key")
    s = api_settings()
    assert asked == ["nepse-api-key"] and s.api_key.get_secret_value() == KEY
    assert KEY not in repr(s) and s.public_dict()["api_key"] == "**********"


def test_the_cli_publishes_a_database_and_refuses_an_open_address(scored, monkeypatch):
    from typer.testing import CliRunner

    from flows.cli import app

    for k in [k for k in os.environ if k.startswith("NEPSE_")]:
        monkeypatch.delenv(k)
    monkeypatch.setenv("NEPSE_DATA_DIR", str(scored.data_dir))
    day = scored.days[0].isoformat()
    result = CliRunner().invoke(app, ["api", "publish", "--from", day, "--to", day])
    assert result.exit_code == 0, result.output
    assert f"published 1 day(s), {day}..{day}" in result.output
    refused = CliRunner().invoke(app, ["api", "serve", "--host", "0.0.0.0"])
    assert isinstance(refused.exception, ConfigError)
    assert "refuses to listen on 0.0.0.0" in str(refused.exception)
