"""Tracebacks of unexpected failures, kept in the user's data folder.

The window reports every failure in one sentence and keeps running. For the
failures nobody foresaw (not a ``DigitsError``), that sentence cannot say why,
so the traceback goes to ``errors.log`` beside the user's models, and the
sentence says where it is. The log is capped: past ``MAX_BYTES`` it becomes
``errors.log.1`` (one older file kept) and a new one starts.
"""
from __future__ import annotations

import threading
import time
import traceback
from pathlib import Path

from model import paths
from model.errors import DigitsError

LOG_NAME = "errors.log"
MAX_BYTES = 256 * 1024
_lock = threading.Lock()  # training and inference threads may both fail at once


def error_log_path() -> Path:
    return paths.user_data_dir() / LOG_NAME


def record_unexpected(context: str, exc: BaseException) -> Path | None:
    """Append ``exc``'s traceback under a heading naming ``context``; the log's path, or None if it cannot
    be written (a read-only or full data folder) or ``exc`` is a ``DigitsError``, whose own sentence says
    all there is (a bad file, a bad setting). Never raises: it runs while a failure is being reported."""
    if isinstance(exc, DigitsError):
        return None
    text = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    entry = f"--- {time.strftime('%Y-%m-%d %H:%M:%S')} {context}\n{text}\n"
    try:
        path = error_log_path()
        with _lock:
            path.parent.mkdir(parents=True, exist_ok=True)
            if path.is_file() and path.stat().st_size > MAX_BYTES:
                path.replace(path.with_name(LOG_NAME + ".1"))
            with path.open("a", encoding="utf-8") as log:
                log.write(entry)
        return path
    except Exception:  # noqa: BLE001 - the failure being reported matters more than its log
        return None


def details_sentence(path: Path | None) -> str:
    """What a failure's message adds about its log: where it is, or nothing."""
    return f" The details are in {path}." if path is not None else ""


def with_details(message: str, context: str, exc: BaseException) -> str:
    """``message`` for the user, with where ``exc``'s traceback was logged when it was (see record_unexpected)."""
    return message + details_sentence(record_unexpected(context, exc))
