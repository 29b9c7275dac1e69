"""Fuzzing ``halyard validate``, ``halyard job validate`` and ``halyard plan --cluster`` with
generated YAML, JSON and bytes: every input ends in exit 0 or in the CLI's validation exit code (1)
with an ``error:`` naming the file, never a traceback, and in bounded time.

Deterministic (``derandomize``) and bounded: the whole module runs in well under a minute.
"""
from __future__ import annotations

import contextlib
import io
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from halyard.cli.main import main
from halyard.jobs.spec import JobSpec
from halyard.spec.app import AppSpec

ROOT = Path(__file__).resolve().parents[2]
APP = ROOT / "examples" / "hello.yaml"
JOB = ROOT / "examples" / "jobs" / "report.yaml"
CLUSTER = ROOT / "examples" / "cluster.yaml"
VALIDATION_EXIT = 1
FUZZ = settings(derandomize=True, max_examples=120, deadline=None, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

# ---------------------------------------------------------------------------------------------
# What is generated

ODD_TEXT = ["", " ", "\u202eevil", "e\u0301", "a\x00b", "\U0001F600", "/\U0001F600", "\ud800", "\udfff",
            "x" * 10_000, "/a/../b", "//", "-", "null", "~", "*a", "&a", "!!python/object:os.system",
            "\ufeff", "\r\n", "\t", "1e309", "NaN", "2001-13-45", "yes", "on", "0x1F", "0o17"]
ODD_NUMBERS = [0, -0.0, 1, -1, 2**31, 2**63, 10**400, -(10**400), 1e308, 1e-320, 1.5,
               float("inf"), float("-inf"), float("nan"), 65536, -65536]

scalars = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(), st.sampled_from(ODD_NUMBERS),
    st.text(st.characters(exclude_categories=()), max_size=12), st.sampled_from(ODD_TEXT))
junk = st.recursive(scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=6) | st.sampled_from(ODD_TEXT), inner, max_size=4)),
    max_leaves=12)


def _fields(model: Any) -> list[str]:
    return sorted(f.alias or name for name, f in model.model_fields.items())


def _shaped(base: dict[str, Any], keys: list[str]) -> st.SearchStrategy[dict[str, Any]]:
    """``base`` with some of its model's fields (and a few unknown ones) set to junk."""
    return st.dictionaries(st.sampled_from(keys) | st.text(max_size=8), junk, max_size=5).map(
        lambda changes: {**base, **changes})


APP_BASE = {"id": "/fuzz/web", "cmd": "sleep 1", "cpus": 0.1, "mem": 32, "instances": 1}
JOB_BASE = {"id": "fuzz.job", "run": {"cmd": "true", "cpus": 0.1, "mem": 32}}
AGENT = {"id": "a1", "hostname": "h1", "resources": {"cpus": 2, "mem": 2048, "ports": [[31000, 31010]]}}
SLAVE = {"id": "S1", "hostname": "h1", "resources": {"cpus": 2, "mem": 2048, "ports": "[31000-31010]"}}
apps = _shaped(APP_BASE, _fields(AppSpec)) | st.lists(_shaped(APP_BASE, _fields(AppSpec)), max_size=3).map(
    lambda items: {"apps": items})
jobs = _shaped(JOB_BASE, _fields(JobSpec)) | _shaped(JOB_BASE, _fields(JobSpec)).map(
    lambda job: {**job, "run": {**JOB_BASE["run"], **{k: v for k, v in job.items() if k != "run"}}})
agent_keys = ["id", "hostname", "resources", "reserved", "used", "attributes", "domain", "tasks"]
slave_keys = ["id", "hostname", "active", "resources", "used_resources", "unreserved_resources",
              "reserved_resources", "attributes", "domain"]
clusters = st.one_of(
    st.lists(_shaped(AGENT, agent_keys), max_size=3).map(lambda agents: {"agents": agents}),
    st.tuples(st.lists(_shaped(SLAVE, slave_keys), max_size=3), junk).map(
        lambda parts: {"slaves": parts[0], "frameworks": parts[1]}),
    st.fixed_dictionaries({"slaves": junk, "frameworks": st.lists(st.fixed_dictionaries({"tasks": junk}))}),
    junk)


def _as_json(value: Any, ascii_only: bool) -> bytes:
    return json.dumps(value, ensure_ascii=ascii_only).encode("utf-8", "surrogatepass")


def _as_yaml(value: Any) -> bytes:
    try:
        return yaml.safe_dump(value, allow_unicode=False).encode("utf-8")
    except (yaml.YAMLError, UnicodeEncodeError, RecursionError):
        return _as_json(value, True)


PREFIXES = [b"", b"\xef\xbb\xbf", b"---\n", b"%YAML 1.1\n---\n", b"# comment\n"]
SUFFIXES = [b"", b"\n---\nid: /two\n", b"\n...\n", b"\x00", b"\nid: /dup\n", b"\n\xff\xfe"]


def _nested(value: Any, depth: int, as_list: bool) -> Any:
    for _ in range(depth):
        value = [value] if as_list else {"k": value}
    return value


def _bomb(levels: int, fan: int, field: str) -> bytes:
    lines = [f"l0: &l0 [{', '.join(['x'] * fan)}]"]
    lines += [f"l{i}: &l{i} [{', '.join([f'*l{i - 1}'] * fan)}]" for i in range(1, levels)]
    return ("\n".join(lines) + f"\nid: /a\ncmd: x\n{field}: *l{levels - 1}\n").encode()


#: Hostile texts: deep nesting around the bound, alias bombs of every size, a key twice.
hostile = st.one_of(
    st.builds(lambda d, as_list, v: _as_json({"id": "/a", "labels": _nested(v, d, as_list)}, True),
              st.integers(90, 1200), st.booleans(), scalars),
    st.builds(lambda d, as_list: ("labels:\n" + "".join(" " * i + ("- " if as_list else f"k{i}:") + "\n"
                                                         for i in range(1, d))).encode(),
              st.integers(90, 150), st.booleans()),
    st.builds(_bomb, st.integers(1, 12), st.integers(1, 12), st.sampled_from(["labels", "env", "cmd", "args"])),
    st.builds(lambda key, v: f"id: /a\n{key}: 1\ncmd: x\n{key}: {json.dumps(v)}\n".encode(),
              st.sampled_from(["id", "cpus", "cmd", "env", "x"]), scalars.filter(lambda v: v == v)),
    st.sampled_from(ODD_TEXT).map(lambda t: _as_json({**APP_BASE, "id": "/" + t}, False)))


def documents(values: st.SearchStrategy[Any]) -> st.SearchStrategy[bytes]:
    """``values`` written as JSON or YAML, sometimes with a BOM, a second document, junk bytes;
    or a hostile text."""
    written = st.one_of(values.map(lambda v: _as_json(v, True)), values.map(lambda v: _as_json(v, False)),
                        values.map(_as_yaml))
    return st.one_of(
        st.tuples(st.sampled_from(PREFIXES), written, st.sampled_from(SUFFIXES)).map(b"".join),
        written,
        hostile,
        st.binary(max_size=64),
        st.tuples(written, st.integers(0, 10_000), st.binary(min_size=1, max_size=4)).map(
            lambda t: t[0][:t[1] % (len(t[0]) + 1)] + t[2] + t[0][t[1] % (len(t[0]) + 1):]))


# ---------------------------------------------------------------------------------------------
# How it is run and judged

def run_cli(*argv: str) -> tuple[int, str, str]:
    """``halyard ARGV`` in this process: (exit code, stdout, stderr). Anything raised fails the test."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(list(argv))
    return code, out.getvalue(), err.getvalue()


def assert_handled(argv: list[str], path: Path, budget: float = 5.0) -> None:
    started = time.perf_counter()
    code, out, err = run_cli(*argv)
    elapsed = time.perf_counter() - started
    assert elapsed < budget, f"{argv} took {elapsed:.1f} s"
    assert "Traceback" not in err
    if code == 0:
        out.encode("utf-8")  # what is printed can be written to a UTF-8 terminal
        return
    assert code == VALIDATION_EXIT, (code, err)
    assert err.startswith(f"error: {path}: "), err[:300]
    problems = err.splitlines()[1:]
    assert problems and all(line.startswith("  ") and line.strip() for line in problems), err[:300]


@pytest.fixture(scope="module")
def workdir():
    with tempfile.TemporaryDirectory() as tmp:
        yield Path(tmp)


@FUZZ
@given(data=documents(apps))
def test_validate_handles_any_app_file(workdir, data):
    path = workdir / "app.json"
    path.write_bytes(data)
    assert_handled(["validate", str(path)], path)


@FUZZ
@given(data=documents(jobs))
def test_job_validate_handles_any_job_file(workdir, data):
    path = workdir / "job.yaml"
    path.write_bytes(data)
    assert_handled(["job", "validate", str(path)], path)


@settings(FUZZ, max_examples=80)
@given(data=documents(clusters))
def test_plan_handles_any_cluster_file(workdir, data):
    path = workdir / "cluster.json"
    path.write_bytes(data)
    assert_handled(["plan", str(APP), "--cluster", str(path)], path)


@settings(FUZZ, max_examples=60)
@given(data=documents(apps))
def test_plan_handles_any_app_file(workdir, data):
    path = workdir / "apps.yaml"
    path.write_bytes(data)
    assert_handled(["plan", str(path), "--cluster", str(CLUSTER)], path)


# ---------------------------------------------------------------------------------------------
# A few cases as a user meets them: the installed command in its own process

BOMB = "".join(f"l{i}: &l{i} [{', '.join([f'*l{i - 1}'] * 9) if i else 'x'}]\n" for i in range(9))
SUBPROCESS_CASES = {
    "alias_bomb.yaml": (BOMB + "id: /a\ncmd: x\nlabels: {x: *l8}\n", "an alias bomb?"),
    "deep.json": ("[" * 100_000 + "]" * 100_000, "nested too deeply"),
    "junk.bin": (b"\x89PNG\r\n\x1a\n\x00\x00\xff\xfe", "not UTF-8 text: byte 0x89 at line 1, column 1"),
    "dupe.json": ('{"id": "/a",\n "cmd": "x",\n "id": "/b"}', "duplicate key 'id' at line 3"),
    "nan.json": ('{"id": "/a", "cmd": "x", "cpus": NaN}', "cpus: NaN is not a number JSON allows"),
}


@pytest.mark.parametrize("name", sorted(SUBPROCESS_CASES))
def test_the_command_refuses_bad_files_without_a_traceback(tmp_path, name):
    text, expected = SUBPROCESS_CASES[name]
    path = tmp_path / name
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    argv = ["job", "validate", str(path)] if name == "dupe.json" else ["validate", str(path)]
    started = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "halyard.cli.main", *argv], capture_output=True, text=True,
                          timeout=60)
    assert time.perf_counter() - started < 30
    assert proc.returncode == VALIDATION_EXIT and "Traceback" not in proc.stderr, proc.stderr[-2000:]
    assert expected in proc.stderr and str(path) in proc.stderr, proc.stderr
