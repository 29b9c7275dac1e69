"""API tokens: the ``--tokens-file`` format, what each token may do, and the file re-read on SIGHUP.

One token per line; blank lines and ``#`` comments are skipped::

    TOKEN rw|ro [PREFIX ...] [name=NAME]

* ``rw`` may change things, ``ro`` only read;
* each ``PREFIX`` (starting with ``/``) scopes the token to the app ids under it, and to the job
  ids under it read as paths (Metronome's dotted ids: ``team-a.etl`` is ``/team-a/etl``); a
  token without prefixes is unscoped;
* ``name=NAME`` is who the token is in the audit log and in releases; without it, a short hash
  of the token (never the token itself). The older ``TOKEN rw|ro NAME`` still names the token.

A line that cannot be read is refused with its number and the problem (never with the token).
"""
from __future__ import annotations

import hashlib
import logging
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from ..errors import Problem, ValidationError

log = logging.getLogger(__name__)
ACCESS = ("rw", "ro")


def default_name(token: str) -> str:
    """A token's name when the file gives none: ``token-`` and 8 hex digits of its SHA-256."""
    return "token-" + hashlib.sha256(token.encode()).hexdigest()[:8]


def job_path(job_id: str) -> str:
    """A job id as a path, for prefixes: ``team-a.etl`` -> ``/team-a/etl``."""
    return "/" + job_id.replace(".", "/")


@dataclass(frozen=True)
class Grant:
    """What one token may do: ``access`` (rw | ro), within ``prefixes`` (empty: everything)."""

    name: str
    access: str
    prefixes: tuple[str, ...] = ()

    @property
    def writes(self) -> bool:
        return self.access == "rw"

    @property
    def scoped(self) -> bool:
        return bool(self.prefixes)

    def covers(self, path: str) -> bool:
        """An app id (or a job id made a path) is within this token's prefixes."""
        return not self.prefixes or any(path.startswith(p) for p in self.prefixes)

    def outside(self, paths: Iterable[str]) -> list[str]:
        """The given ids that are not within this token's prefixes, sorted, each once."""
        return sorted({p for p in paths if not self.covers(p)})


class TokenBook:
    """Every token of a tokens file: token -> :class:`Grant`. Empty: the API is open."""

    def __init__(self, grants: Mapping[str, Grant] | None = None):
        self._grants = dict(grants or {})

    def grant(self, token: str) -> Grant | None:
        return self._grants.get(token)

    def __bool__(self) -> bool:
        return bool(self._grants)

    def __len__(self) -> int:
        return len(self._grants)

    @classmethod
    def of(cls, simple: Mapping[str, str]) -> TokenBook:
        """From ``{token: "rw"|"ro"}`` (unscoped, default names)."""
        return cls({t: Grant(default_name(t), a) for t, a in simple.items()})


def parse_tokens(text: str, source: str = "tokens file") -> TokenBook:
    """The tokens file's text -> a :class:`TokenBook`; every unreadable line is a Problem at
    ``line N`` (ValidationError), and the token itself never appears in a message."""
    grants: dict[str, Grant] = {}
    seen: dict[str, int] = {}
    problems: list[Problem] = []
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        where = f"line {number}"
        token, *words = line.split()
        grant, found = _grant(token, words)
        problems += [Problem(where, p) for p in found]
        if token in seen:
            problems.append(Problem(where, f"the same token as on line {seen[token]}"))
        seen.setdefault(token, number)
        if grant is not None and not found:
            grants[token] = grant
    if problems:
        raise ValidationError(problems, source)
    return TokenBook(grants)


def _grant(token: str, words: list[str]) -> tuple[Grant | None, list[str]]:
    if not words or words[0] not in ACCESS:
        got = f"got {words[0]!r}" if words else "got nothing"
        return None, [f"expected 'rw' or 'ro' after the token, {got} (TOKEN rw|ro [/PREFIX ...] [name=NAME])"]
    access, rest = words[0], words[1:]
    if len(rest) == 1 and not rest[0].startswith("/") and "=" not in rest[0]:
        return Grant(rest[0], access), []   # the older TOKEN rw|ro NAME
    name: str | None = None
    prefixes: list[str] = []
    problems: list[str] = []
    for word in rest:
        key, eq, value = word.partition("=")
        if eq and key == "name":
            if name is not None:
                problems.append("name= is given twice")
            elif not value:
                problems.append("name= needs a value")
            name = value
        elif eq:
            problems.append(f"unknown setting {key!r} (only name=NAME)")
        elif not word.startswith("/"):
            problems.append(f"{word!r} is not an id prefix: prefixes start with '/' (e.g. /team-a/)")
        elif word in prefixes:
            problems.append(f"prefix {word} is given twice")
        else:
            prefixes.append(word)
    return Grant(name or default_name(token), access, tuple(prefixes)), problems


class TokenFile:
    """The tokens file as the scheduler holds it: read at start (a bad file stops the start),
    re-read by :meth:`reload` (SIGHUP), which keeps the tokens it had when the new text is bad."""

    def __init__(self, path: str):
        self.path = path
        self._lock = threading.Lock()
        self._book = self._read()

    def _read(self) -> TokenBook:
        try:
            with open(self.path) as f:
                text = f.read()
        except OSError as exc:
            raise ValidationError([Problem("", f"cannot read it: {exc.strerror}")], self.path) from None
        return parse_tokens(text, self.path)

    @property
    def book(self) -> TokenBook:
        with self._lock:
            return self._book

    def reload(self) -> bool:
        """Re-read the file; True when the new tokens are in force (the next request sees them)."""
        try:
            book = self._read()
        except ValidationError as exc:
            log.error("tokens file not reloaded, the tokens read before stay in force: %s", exc)
            return False
        with self._lock:
            self._book = book
        log.info("tokens file %s reloaded: %d token(s)", self.path, len(book))
        return True
