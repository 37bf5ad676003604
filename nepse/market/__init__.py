"""NEPSE market rules: the dated registry (rules.toml) and its reader."""
