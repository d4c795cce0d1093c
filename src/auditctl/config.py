"""Configuration: one TOML file, resolved in one place.

Precedence, for every setting: command-line flag > ``AUDITCTL_*`` environment
variable > config file > default. The home folder is ``$AUDITCTL_HOME`` or the
platform's app folder; the config file is ``config.toml`` in it unless
``--config``/``AUDITCTL_CONFIG`` names another.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from auditctl.errors import StoreIOError, UsageError
from auditctl.names import DEFAULT_PATTERNS

# name → (type, default, help). The only list of settings; `config` validates against it.
SETTINGS: dict[str, tuple[type, Any, str]] = {
    "store": (str, None, "store path, sqlite:///path or http(s)://server URL"),
    "token": (str, None, "API token for a remote store"),
    "org": (str, "default", "organization of the local store"),
    "retention_days": (int, 30, "days of events `purge` keeps"),
    "redact_patterns": (list, list(DEFAULT_PATTERNS), "key-name substrings whose values are redacted"),
    "chain_key": (str, None, "secret key for an HMAC hash chain"),
    "format": (str, None, "default output format: table, json, jsonl or csv"),
    "timeout": (int, 30, "seconds a remote store may take to answer one call, retries included"),
}
ENV_PREFIX = "AUDITCTL_"


def home() -> Path:
    explicit = os.environ.get("AUDITCTL_HOME")
    if explicit:
        return Path(explicit).expanduser()
    return app_dir("auditctl")


def app_dir(name: str) -> Path:
    """The platform's folder for an app's files: what ``typer.get_app_dir`` returns.

    Computed here because importing typer costs a search ~50 ms of start-up;
    ``tests/test_config.py`` checks the two agree.
    """
    if sys.platform.startswith("win"):
        base = os.environ.get("APPDATA") or os.environ.get("LOCALAPPDATA") or os.path.expanduser("~")
        return Path(base) / name
    if sys.platform == "darwin":
        return Path(os.path.expanduser("~/Library/Application Support")) / name
    base = os.environ.get("XDG_CONFIG_HOME") or os.path.expanduser("~/.config")
    return Path(base) / name.replace(" ", "-").lower()


def config_path(flag: str | None = None) -> Path:
    if flag:
        return Path(flag).expanduser()
    env = os.environ.get("AUDITCTL_CONFIG")
    if env:
        return Path(env).expanduser()
    return home() / "config.toml"


def default_store_path() -> Path:
    return home() / "audit.db"


def load_file(path: Path) -> dict[str, Any]:
    if not path.exists():
        return {}
    import tomllib  # only when there is a file to read

    try:
        with open(path, "rb") as handle:
            data = tomllib.load(handle)
    except tomllib.TOMLDecodeError as exc:
        raise UsageError(f"config file {path} is not valid TOML: {exc}") from None
    except OSError as exc:
        raise StoreIOError(f"cannot read config file {path}: {exc.strerror}") from None
    return data


def save_file(path: Path, data: dict[str, Any]) -> None:
    import tomli_w

    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = path.with_suffix(path.suffix + ".tmp")
    # The file may hold a token or chain key: 0600 from the first byte.
    fd = os.open(tmp, os.O_CREAT | os.O_WRONLY | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        tomli_w.dump(data, handle)
    os.replace(tmp, path)


def coerce(name: str, raw: Any) -> Any:
    """Check and convert a value for a known setting (from the CLI, env or file)."""
    if name not in SETTINGS:
        raise UsageError(f"unknown setting {name!r}; known: {', '.join(SETTINGS)}")
    kind = SETTINGS[name][0]
    if kind is int:
        try:
            value = int(raw)
        except (TypeError, ValueError):
            raise UsageError(f"{name} must be a whole number, got {raw!r}") from None
        if name in ("retention_days", "timeout") and value < 1:
            raise UsageError(f"{name} must be at least 1")
        return value
    if kind is list:
        if isinstance(raw, str):
            return [p.strip() for p in raw.split(",") if p.strip()]
        if isinstance(raw, list) and all(isinstance(p, str) for p in raw):
            return raw
        raise UsageError(f"{name} must be a list of strings")
    if not isinstance(raw, str):
        raise UsageError(f"{name} must be a string")
    if name == "format" and raw not in ("table", "json", "jsonl", "csv"):
        raise UsageError("format must be one of table, json, jsonl, csv")
    return raw


@dataclass
class Settings:
    """Every setting with the value in force and where it came from."""

    values: dict[str, Any]
    sources: dict[str, str]
    path: Path

    def __getitem__(self, name: str) -> Any:
        return self.values[name]


def resolve(flags: dict[str, Any] | None = None, config_flag: str | None = None) -> Settings:
    """The one function that applies flag > env > file > default."""
    flags = flags or {}
    path = config_path(config_flag)
    file_values = load_file(path)
    values: dict[str, Any] = {}
    sources: dict[str, str] = {}
    for name, (_, default, _) in SETTINGS.items():
        env = os.environ.get(ENV_PREFIX + name.upper())
        if flags.get(name) is not None:
            values[name], sources[name] = coerce(name, flags[name]), "flag"
        elif env not in (None, ""):
            values[name], sources[name] = coerce(name, env), "env"
        elif name in file_values:
            values[name], sources[name] = coerce(name, file_values[name]), "file"
        else:
            values[name], sources[name] = default, "default"
    return Settings(values, sources, path)
