"""dcos-metronome's own strict parser (protobuf's JSON parser over its generated messages), run in a
child process: its generated code predates protobuf 4 and imports only with the pure-Python
implementation, which must be chosen before protobuf is first imported (not in Halyard's process)."""
from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys

import pytest

_CHILD = """
import json, sys
from google.protobuf.json_format import Parse
from metronome.models import JobSpec, JobRun, ScheduleSpec
kinds = {"JobSpec": JobSpec, "JobRun": JobRun, "ScheduleSpec": ScheduleSpec}
errors = []
for kind, body in json.load(sys.stdin):
    try:
        Parse(json.dumps(body), kinds[kind]())
    except Exception as exc:
        errors.append(f"{kind}: {exc}")
json.dump(errors, sys.stdout)
"""


def strict_parse(*answers: tuple[str, object]) -> list[str]:
    """What dcos-metronome's parser refuses among ``answers`` (``(kind, body)``; a list body is
    parsed item by item, as the client parses lists); [] when it reads them all."""
    if importlib.util.find_spec("metronome") is None:   # not imported here: see the module's docstring
        pytest.skip("dcos-metronome (the test extras) is not installed")
    flat = [(kind, item) for kind, body in answers for item in (body if isinstance(body, list) else [body])]
    env = {**os.environ, "PROTOCOL_BUFFERS_PYTHON_IMPLEMENTATION": "python"}
    done = subprocess.run([sys.executable, "-c", _CHILD], input=json.dumps(flat), capture_output=True, text=True,
                          env=env, timeout=60, check=True)
    return json.loads(done.stdout)
