"""Who may listen where, and the key every request then carries.

`nepse api` listens on 127.0.0.1 unless told otherwise; on any other address it refuses to
start without an API key, and with a key every data route requires `Authorization: Bearer KEY`
(compared in constant time). The docs page and the OpenAPI schema stay open (they hold no
data), so a browser can show them and send the key with "Authorize".
"""

from __future__ import annotations

import hmac
import ipaddress

from fastapi import Depends, HTTPException
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from nepse.errors import ConfigError

MIN_KEY_LENGTH = 16


def is_loopback(host: str) -> bool:
    """True for localhost and loopback addresses (127.0.0.0/8, ::1)."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # a host name other than localhost may resolve anywhere


def check_bind(host: str, key: str | None) -> None:
    """Refuse (ConfigError) to listen beyond loopback without a key, or with a short key."""
    if key is not None and len(key) < MIN_KEY_LENGTH:
        raise ConfigError(
            f"the API key is {len(key)} characters long; use at least {MIN_KEY_LENGTH} "
            '(e.g. python -c "import secrets; print(secrets.token_urlsafe(32))")'
        )
    if key is None and not is_loopback(host):
        raise ConfigError(
            f"nepse api refuses to listen on {host} without an API key: anyone who reaches that "
            "address could read every prediction. Set NEPSE_API_KEY (or NEPSE_API_KEY_BLOCK, "
            "the name of a Prefect Secret block holding it), or listen on 127.0.0.1"
        )


_bearer = HTTPBearer(auto_error=False, description="The API key (NEPSE_API_KEY).")


def key_dependency(key: str):
    """A route dependency that answers 401 unless the request carries `key` as a Bearer token."""
    expected = key.encode()

    async def require_key(
        credentials: HTTPAuthorizationCredentials | None = Depends(_bearer),
    ) -> None:
        given = (credentials.credentials if credentials else "").encode()
        if not hmac.compare_digest(given, expected):
            raise HTTPException(
                status_code=401,
                detail="missing or wrong API key: send the header 'Authorization: Bearer <key>'",
                headers={"WWW-Authenticate": "Bearer"},
            )

    return require_key
