"""Invalid settings in words: one line naming each setting, the value given and its range.

`describe` turns pydantic's ValidationError of `nepse.settings.Settings` into the ConfigError's
message: `retrain_every (NEPSE_RETRAIN_EVERY) = '0': Input should be greater than or equal to 1
(allowed: 1..2,520)`, several settings joined by `; `.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ValidationError


def describe(exc: ValidationError, model: type[BaseModel]) -> str:
    """One line naming each invalid setting of `model`, the value given and the range allowed."""
    parts = []
    errors = exc.errors()
    items = {e["loc"][0] for e in errors if len(e["loc"]) > 1}
    for err in errors:
        name = str(err["loc"][0]) if err["loc"] else "?"
        if name in items and len(err["loc"]) == 1 and err["type"] == "too_short":
            continue  # pydantic's echo of a bad item: the item's own error says it
        field = model.model_fields.get(name)
        value = repr(err.get("input"))
        value = value if len(value) <= 40 else value[:37] + "..."
        allowed = ""
        if field is not None and len(err["loc"]) > 1:
            allowed = "each " + _allowed(field.annotation.__args__[0].__metadata__[0])
        elif field is not None:
            allowed = _allowed(field)
        where = f"[{err['loc'][1]}]" if len(err["loc"]) > 1 else ""
        parts.append(
            f"{name}{where} (NEPSE_{name.upper()}) = {value}: {err['msg'].rstrip('.')}"
            + (f" (allowed: {allowed})" if allowed else "")
        )
    return "invalid settings: " + "; ".join(parts)


def _allowed(field: Any) -> str:
    """The range a field's constraints allow, in words ('1..2520', '> 0 and <= 50', ...)."""
    bounds: dict[str, Any] = {}
    for item in getattr(field, "metadata", None) or [field]:
        for key in ("ge", "gt", "le", "lt", "min_length", "max_length"):
            if getattr(item, key, None) is not None:
                bounds[key] = getattr(item, key)
    if "min_length" in bounds or "max_length" in bounds:
        return f"{bounds.get('min_length', 0)} to {bounds.get('max_length', 'any')} values"
    low = f">= {bounds['ge']}" if "ge" in bounds else f"> {bounds['gt']}" if "gt" in bounds else ""
    high = f"<= {bounds['le']}" if "le" in bounds else f"< {bounds['lt']}" if "lt" in bounds else ""
    if "ge" in bounds and "le" in bounds:
        return f"{bounds['ge']:,}..{bounds['le']:,}"
    return " and ".join(p for p in (low, high) if p)
