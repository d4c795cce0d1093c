"""Config resolution: precedence, the home folder, and the file's permissions."""

from __future__ import annotations

import os
import stat

import pytest
import typer

from auditctl import config


def test_app_dir_matches_typer(monkeypatch):
    monkeypatch.delenv("AUDITCTL_HOME", raising=False)
    for xdg in (None, "/tmp/xdg-test"):
        if xdg is None:
            monkeypatch.delenv("XDG_CONFIG_HOME", raising=False)
        else:
            monkeypatch.setenv("XDG_CONFIG_HOME", xdg)
        assert config.home() == config.app_dir("auditctl")
        assert str(config.app_dir("auditctl")) == typer.get_app_dir("auditctl")


def test_precedence_is_flag_then_env_then_file_then_default(tmp_path, monkeypatch):
    path = tmp_path / "c.toml"
    config.save_file(path, {"retention_days": 60, "org": "acme"})
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    settings = config.resolve(config_flag=str(path))
    assert (settings["retention_days"], settings.sources["retention_days"]) == (60, "file")
    assert (settings["format"], settings.sources["format"]) == (None, "default")
    monkeypatch.setenv("AUDITCTL_RETENTION_DAYS", "7")
    assert config.resolve(config_flag=str(path))["retention_days"] == 7
    monkeypatch.setenv("AUDITCTL_STORE", "/env.db")
    settings = config.resolve({"store": "/flag.db"}, config_flag=str(path))
    assert (settings["store"], settings.sources["store"]) == ("/flag.db", "flag")


def test_bad_values_are_usage_errors(tmp_path):
    from auditctl.errors import UsageError

    bad = tmp_path / "bad.toml"
    bad.write_text("retention_days = [")
    with pytest.raises(UsageError, match="not valid TOML"):
        config.resolve(config_flag=str(bad))
    with pytest.raises(UsageError):
        config.coerce("retention_days", "0")
