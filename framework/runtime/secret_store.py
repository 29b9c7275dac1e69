"""The scheduler's secret store: a YAML or JSON file mapping each secret's source (the
``source`` of Marathon's ``secrets: {NAME: {source: ...}}``) to its value, given with
``halyard scheduler --secrets-file PATH``.

The file is read at start (a bad file stops the scheduler) and again whenever it changes, so
secrets can be rotated without a restart; a change that makes it unreadable keeps the last good
contents (and is logged). The values reach apps when an app is deployed or changed.
"""
from __future__ import annotations

import logging
import os
import threading
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import yaml

from ..errors import Problem, ValidationError

log = logging.getLogger(__name__)


def parse_secrets(text: str, source: str) -> dict[str, str]:
    """A secret file's text -> source -> value; anything else is a :class:`ValidationError`."""
    try:
        data: Any = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ValidationError([Problem("", f"not valid YAML/JSON: {getattr(exc, 'problem', None) or exc}")], source) from None
    if data is None:
        return {}
    if not isinstance(data, Mapping):
        raise ValidationError([Problem("", "expected a mapping of secret source to value")], source)
    problems = [Problem(str(k), "expected a string value (quote numbers and booleans)")
                for k, v in data.items() if not isinstance(v, str)]
    problems += [Problem(str(k), "a source must be a non-empty string") for k in data if not isinstance(k, str) or not k]
    if problems:
        raise ValidationError(problems, source)
    return dict(data)


class SecretStore(Mapping[str, str]):
    """The secrets of one file, as a read-only mapping that follows the file's changes."""

    def __init__(self, path: str | os.PathLike[str]):
        self.path = Path(path)
        self._lock = threading.Lock()
        self._stamp: tuple[int, int] = (-1, -1)
        self._values: dict[str, str] = {}
        self._reload(strict=True)

    def _reload(self, strict: bool = False) -> None:
        try:
            st = self.path.stat()
            stamp = (st.st_mtime_ns, st.st_size)
            if stamp == self._stamp:
                return
            values = parse_secrets(self.path.read_text(), str(self.path))
        except (OSError, ValidationError) as exc:
            if strict:
                if isinstance(exc, OSError):
                    raise ValidationError([Problem("", f"cannot read file: {exc.strerror}")], str(self.path)) from None
                raise
            log.warning("secret store %s not reloaded, keeping the last good one: %s", self.path, exc)
            return
        self._values, self._stamp = values, stamp

    def _current(self) -> dict[str, str]:
        with self._lock:
            self._reload()
            return self._values

    def __getitem__(self, source: str) -> str:
        return self._current()[source]

    def __iter__(self) -> Iterator[str]:
        return iter(list(self._current()))

    def __len__(self) -> int:
        return len(self._current())

    def __contains__(self, source: object) -> bool:
        return source in self._current()
