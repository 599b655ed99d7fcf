import pytest
from django.core.exceptions import ImproperlyConfigured

from statushub.lib.env import env_bool, env_int, env_list, env_str


def test_a_secret_can_come_from_a_file(monkeypatch, tmp_path):
    secret = tmp_path / "key"
    secret.write_text("s3cret\n")
    monkeypatch.delenv("SOME_KEY", raising=False)
    monkeypatch.setenv("SOME_KEY_FILE", str(secret))
    assert env_str("SOME_KEY") == "s3cret"


def test_an_unreadable_secret_file_stops_startup(monkeypatch, tmp_path):
    monkeypatch.delenv("SOME_KEY", raising=False)
    monkeypatch.setenv("SOME_KEY_FILE", str(tmp_path / "missing"))
    with pytest.raises(ImproperlyConfigured, match="SOME_KEY_FILE"):
        env_str("SOME_KEY")


def test_typos_in_booleans_and_integers_fail_loudly(monkeypatch):
    monkeypatch.setenv("FLAG", "ture")
    monkeypatch.setenv("NUM", "ten")
    with pytest.raises(ImproperlyConfigured, match="FLAG"):
        env_bool("FLAG")
    with pytest.raises(ImproperlyConfigured, match="NUM"):
        env_int("NUM", 1)


def test_lists_are_comma_separated(monkeypatch):
    monkeypatch.setenv("HOSTS", "a.example, b.example,,")
    assert env_list("HOSTS", []) == ["a.example", "b.example"]


def test_a_misspelt_time_zone_stops_startup_with_a_clear_message():
    import os
    import subprocess
    import sys

    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "statushub.settings",
        "STATUSHUB_TIME_ZONE": "Europe/Pariss",
    }
    run = subprocess.run(
        [sys.executable, "-c", "import django; django.setup()"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode != 0
    assert "STATUSHUB_TIME_ZONE='Europe/Pariss' is not a time zone name" in run.stderr
