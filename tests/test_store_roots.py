"""Roots that are MLflow tracking stores, as the config and the root check see them (no MLflow needed)."""

from __future__ import annotations

from pathlib import Path

import pytest

from sitegen import tracking_uri
from sitegen.config import load_config
from sitegen.errors import ConfigError, RootNotFound
from sitegen.pipeline import _check_roots


def _load(tmp_path: Path, text: str):
    path = tmp_path / "sitegen.yaml"
    path.write_text(text)
    return load_config(str(path))


def test_uri_roots_are_kept_and_sqlite_paths_resolve_beside_the_config(tmp_path):
    config = _load(tmp_path, "roots: ['sqlite:///db/mlflow.db', 'sqlite:////abs/m.db', "
                             "'http://127.0.0.1:5000', 'https://mlflow.example.com/base', runs]\n")
    assert config.roots == [
        f"sqlite:///{tmp_path / 'db' / 'mlflow.db'}", "sqlite:////abs/m.db",
        "http://127.0.0.1:5000", "https://mlflow.example.com/base", str(tmp_path / "runs"),
    ]


def test_credentials_in_a_root_uri_are_refused_without_repeating_them(tmp_path):
    with pytest.raises(ConfigError) as info:
        _load(tmp_path, "roots: ['https://alice:s3cret@mlflow.example.com']\n")
    message = str(info.value)
    assert message == (
        f"{tmp_path / 'sitegen.yaml'}: roots: 'https://***@mlflow.example.com': credentials in a root "
        "would be published with the site; set MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD instead"
    )
    assert "s3cret" not in message


def test_an_unknown_uri_scheme_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match=r"roots: 's3://bucket/runs': not a directory or a tracking URI"):
        _load(tmp_path, "roots: ['s3://bucket/runs']\n")


def test_a_missing_sqlite_database_is_one_clear_error(tmp_path):
    with pytest.raises(RootNotFound) as info:
        _check_roots([f"sqlite:///{tmp_path}/nope.db"])
    assert str(info.value) == (f"root 'sqlite:///{tmp_path}/nope.db': {tmp_path}/nope.db does not exist; "
                               "check 'roots' in sitegen.yaml or --root")


def test_roots_split_into_directories_and_stores(tmp_path):
    (tmp_path / "runs").mkdir()
    (tmp_path / "team" / "mlruns" / "0").mkdir(parents=True)
    (tmp_path / "db.sqlite").write_bytes(b"")
    roots = [str(tmp_path / "runs"), str(tmp_path / "team"), f"sqlite:///{tmp_path}/db.sqlite",
             "http://127.0.0.1:9"]
    dirs, stores = _check_roots(roots)
    assert dirs == [str(tmp_path / "runs"), str(tmp_path / "team")]  # its mlruns/ is found by discovery
    assert stores == [f"sqlite:///{tmp_path}/db.sqlite", "http://127.0.0.1:9"]


def test_a_file_store_is_recognised_by_its_entries_whatever_its_name(tmp_path):
    store = tmp_path / "tracking"
    (store / "0").mkdir(parents=True)  # a committed store: git dropped the empty .trash/
    (store / "0" / "meta.yaml").write_text("name: Default\n")
    assert tracking_uri.store_uri(str(store)) == store.as_uri()
    assert tracking_uri.store_uri(str(tmp_path)) is None
    (tmp_path / ".trash").mkdir()  # a trash folder alone is not a store
    assert tracking_uri.store_uri(str(tmp_path)) is None
    assert tracking_uri.local_path(store.as_uri()) == str(store)
