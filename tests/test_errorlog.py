"""The error log: an unforeseen failure's traceback is kept where the user's models are, and never grows without end."""
from __future__ import annotations

import pytest

from model import errorlog


def _failure(message: str) -> RuntimeError:
    def deep_inside():
        raise RuntimeError(message)

    try:
        deep_inside()
    except RuntimeError as exc:
        return exc
    raise AssertionError("unreachable")


def test_a_failure_is_logged_with_its_context_and_traceback(private_user_data):
    first = errorlog.record_unexpected("training", _failure("first"))
    second = errorlog.record_unexpected("prediction", _failure("second"))
    assert first == second == private_user_data / "errors.log"
    text = first.read_text(encoding="utf-8")
    assert text.index(" training\n") < text.index("RuntimeError: first") < text.index(" prediction\n")
    assert text.count("in deep_inside") == 2 and "RuntimeError: second" in text
    assert errorlog.details_sentence(first) == f" The details are in {first}."


def test_a_full_log_is_set_aside_once_and_a_new_one_started(private_user_data, monkeypatch):
    monkeypatch.setattr(errorlog, "MAX_BYTES", 2000)
    for n in range(12):
        errorlog.record_unexpected(f"run {n}", _failure(f"failure {n}"))
    log, older = private_user_data / "errors.log", private_user_data / "errors.log.1"
    assert older.is_file() and not (private_user_data / "errors.log.1.1").exists()
    assert log.stat().st_size <= 2000 + 1000 and older.stat().st_size <= 2000 + 1000
    assert "failure 11" in log.read_text(encoding="utf-8")


def test_an_unwritable_data_folder_loses_the_log_not_the_report(tmp_path, monkeypatch):
    not_a_folder = tmp_path / "digits-home"
    not_a_folder.write_text("a file where the data folder should be")
    monkeypatch.setenv("DIGITS_HOME", str(not_a_folder))
    assert errorlog.record_unexpected("training", _failure("boom")) is None
    assert errorlog.details_sentence(None) == ""


@pytest.mark.parametrize("context", ["loading /tmp/x.keras", "epoch 3 snapshot"])
def test_the_heading_names_what_failed(private_user_data, context):
    path = errorlog.record_unexpected(context, _failure("x"))
    assert f" {context}\n" in path.read_text(encoding="utf-8")


def test_a_foreseen_failure_is_not_logged(private_user_data):
    from model.errors import DigitsError

    assert errorlog.record_unexpected("opening a model", DigitsError("x.keras: not a model file.")) is None
    assert not (private_user_data / "errors.log").exists()
