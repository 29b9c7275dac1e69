"""Reading input files (``halyard.documents.reader``): each crash the fuzzer found, as a focused test, and
the bounds (depth, alias expansion) with the inputs that probe them."""
from __future__ import annotations

import json
import time
import tracemalloc

import pytest
import yaml

from halyard.cluster.agents import load_cluster
from halyard.documents.reader import MAX_ALIAS_NODES, MAX_DEPTH, parse_document
from halyard.errors import ValidationError
from halyard.spec.validation import raw_apps


def refused(data) -> list[str]:
    """The problems (``path: message``) that reading ``data`` raises."""
    with pytest.raises(ValidationError) as err:
        parse_document(data)
    return [str(p) for p in err.value.problems]


def bomb(levels: int, fan: int = 9) -> str:
    """A "billion laughs" document: ``fan ** levels`` strings from a few hundred bytes."""
    lines = [f"l0: &l0 [{', '.join(['lol'] * fan)}]"]
    lines += [f"l{i}: &l{i} [{', '.join([f'*l{i - 1}'] * fan)}]" for i in range(1, levels)]
    return "\n".join(lines) + "\n"


# --- nesting ------------------------------------------------------------------------------------

@pytest.mark.parametrize("text", ["[" * 100_000 + "]" * 100_000,   # was RecursionError from json
                                  "[" * 900 + "]" * 900 + "\n",     # was RecursionError from the constructor
                                  "a:\n" + "".join(" " * (i + 1) + f"k{i}:\n" for i in range(150))])
def test_deep_nesting_is_refused_not_a_recursion_error(text):
    assert refused(text) == [p for p in refused(text) if "nested too deeply (more than 100 levels" in p] != []


def test_nesting_up_to_the_bound_is_read_and_the_path_names_the_top_level_field():
    ok = {"labels": json.loads("[" * (MAX_DEPTH - 1) + "]" * (MAX_DEPTH - 1))}
    assert parse_document(json.dumps(ok)) == ok
    assert parse_document(yaml.safe_dump(ok)) == ok
    deep = {"labels": json.loads("[" * MAX_DEPTH + "]" * MAX_DEPTH)}
    assert refused(json.dumps(deep))[0].startswith("labels: nested too deeply")
    assert refused(yaml.safe_dump(deep)) == ["labels: line 2: nested too deeply (more than 100 levels of lists "
                                             "and mappings)"]


# --- aliases ------------------------------------------------------------------------------------

def test_an_alias_bomb_is_refused_before_anything_is_expanded():
    text = bomb(10) + "id: /a\nlabels: {x: *l9}\n"  # 9**10 = 3.5e9 nodes once expanded
    tracemalloc.start()
    started = time.perf_counter()
    try:
        problems = refused(text)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert problems == [f"YAML aliases expand to more than {MAX_ALIAS_NODES} nodes beyond the document's own "
                        "(an alias bomb?): refused, not expanded"]
    assert time.perf_counter() - started < 2 and peak < 5_000_000


def test_aliases_that_expand_a_little_are_read_as_safe_load_reads_them():
    text = ("base: &base {cpus: 0.1, mem: 32, labels: {team: a}}\n"
            "apps:\n  - {<<: *base, id: /a}\n  - {<<: *base, id: /b, mem: 64}\n" + bomb(4))  # 9**4 nodes
    assert parse_document(text) == yaml.safe_load(text)


def test_a_recursive_alias_is_refused_naming_its_line():
    assert refused("id: /a\nlabels: &a {x: *a}\n") == [
        "labels: line 2: an alias refers to a node that holds it (a recursive alias)"]


# --- keys ---------------------------------------------------------------------------------------

def test_a_duplicate_key_is_refused_naming_the_key_and_line_in_yaml_and_json():
    assert refused("id: /a\ncmd: x\nid: /b\n") == ["line 3: duplicate key 'id' (first at line 1)"]
    assert refused('{"apps": [{"id": "/a",\n  "cpus": 1,\n  "cpus": 2}]}') == [
        "apps[0]: duplicate key 'cpus' at line 3"]
    # a merge key's fields may be overridden: that is not a duplicate
    assert parse_document("b: &b {x: 1}\nc: {<<: *b, x: 2}\n") == {"b": {"x": 1}, "c": {"x": 2}}


@pytest.mark.parametrize("text, key", [("1: x\n", "1"), ("yes: x\n", "yes"), ("~: x\n", "~"),
                                       ("? [a, b]\n: x\n", "seq")])
def test_a_key_that_is_not_a_string_is_refused(text, key):
    assert refused(text) == [f"line 1: the key {key!r} is not a string (quote it)"]


def test_an_apps_file_with_keys_of_mixed_types_names_the_unknown_ones():
    # was TypeError: '<' not supported between instances of 'str' and 'int' (sorting the keys)
    with pytest.raises(ValidationError) as err:
        raw_apps({"apps": [], 1: "x", "b": "y"})
    assert [str(p) for p in err.value.problems] == ["1: unknown field (a file with apps: holds only apps)",
                                                    "b: unknown field (a file with apps: holds only apps)"]


# --- numbers ------------------------------------------------------------------------------------

@pytest.mark.parametrize("text, problem", [
    ('{"cpus": NaN}', "cpus: NaN is not a number JSON allows (not a finite number)"),
    ('{"mem": -Infinity}', "mem: -Infinity is not a number JSON allows (not a finite number)"),
    ('{"a": [1e309]}', "a[0]: number out of range (not a finite number)"),
    ("cpus: .nan\n", "not valid YAML/JSON: line 1, column 7: .nan is not a finite number"),
    ("cpus: -.inf\n", "not valid YAML/JSON: line 1, column 7: -.inf is not a finite number"),
    ("cpus: 1.0e+400\n", "not valid YAML/JSON: line 1, column 7: 1.0e+400 is not a finite number"),
])
def test_nan_infinity_and_out_of_range_floats_are_refused(text, problem):
    assert refused(text) == [problem]


def test_an_integer_too_long_to_convert_is_refused_not_a_value_error():
    # was ValueError: Exceeds the limit (4300 digits) for integer string conversion
    assert refused('{"instances": ' + "9" * 5000 + "}") == [
        "not valid YAML/JSON: line 1, column 15: integer 99999999999999999999... has too many digits"]


def test_big_but_convertible_numbers_and_negative_zero_are_read():
    assert parse_document('{"a": %d, "b": -0, "c": -0.0}' % 10**400) == {"a": 10**400, "b": 0, "c": -0.0}


# --- text ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("data, problem", [
    (b"\x89PNG\r\n\x1a\n\x00", "not UTF-8 text: byte 0x89 at line 1, column 1 (expected UTF-8)"),
    (b"id: /a\ncmd: caf\xe9\n", "not UTF-8 text: byte 0xe9 at line 2, column 9 (expected UTF-8)"),
    (b"\xff\xfe\x00\xd8", "not valid UTF-16 text after its byte order mark"),
])
def test_bytes_that_are_not_text_are_refused_naming_where(data, problem):
    # was UnicodeDecodeError
    assert refused(data) == [problem]


def test_a_bom_is_read_in_utf8_utf16_and_utf32():
    doc = {"id": "/caf\u00e9", "cmd": "x"}
    for data in [b"\xef\xbb\xbf" + json.dumps(doc).encode(), json.dumps(doc).encode("utf-16"),
                 yaml.safe_dump(doc, allow_unicode=True).encode("utf-32"), "\ufeff" + json.dumps(doc)]:
        assert parse_document(data) == doc


def test_a_lone_surrogate_escape_is_refused_with_its_path():
    # was accepted, then UnicodeEncodeError when the app was printed
    assert refused('{"id": "/a", "cmd": "\\ud800"}') == ["cmd: '\\ud800' holds a lone UTF-16 surrogate (not valid Unicode)"]
    assert refused('{"env": {"\\udfff": "x"}}') == [
        "env: key '\\udfff' holds a lone UTF-16 surrogate (not valid Unicode)"]
    assert parse_document('{"cmd": "\\ud83d\\ude00"}') == {"cmd": "\U0001F600"}  # a pair is an emoji
    assert refused('cmd: "\\ud800"\n')[0].startswith("not valid YAML/JSON: line 1")


def test_unprintable_keys_are_quoted_in_paths_so_each_problem_is_one_line():
    assert refused('{"labels": {"a\\nb": NaN}}') == [
        'labels["a\\nb"]: NaN is not a number JSON allows (not a finite number)']


# --- tags, timestamps, documents ----------------------------------------------------------------

def test_python_tags_are_refused_and_nothing_is_run(tmp_path):
    marker = tmp_path / "ran"
    problems = refused(f'!!python/object/apply:os.system ["touch {marker}"]\n')
    assert problems[0].startswith("not valid YAML/JSON: line 1, column 1: could not determine a constructor "
                                  "for the tag 'tag:yaml.org,2002:python/object/apply:os.system'")
    assert not marker.exists()


@pytest.mark.parametrize("tag", ["binary", "set", "omap", "pairs"])
def test_yaml_types_without_a_json_value_are_refused(tag):
    value = {"binary": "aGk=", "set": "{a, b}", "omap": "[a: 1]", "pairs": "[a: 1]"}[tag]
    assert refused(f"labels:\n  x: !!{tag} {value}\n") == [
        f"not valid YAML/JSON: line 2, column 6: the YAML tag tag:yaml.org,2002:{tag} has no JSON value (remove the tag)"]


def test_a_timestamp_stays_text_even_an_impossible_date():
    # was ValueError: month must be in 1..12 (and a good date a datetime.date no JSON holds)
    assert parse_document("a: 2001-13-45\nb: 2001-12-14 21:59:43.10 -5\n") == {
        "a": "2001-13-45", "b": "2001-12-14 21:59:43.10 -5"}


@pytest.mark.parametrize("text", ["", "\n", "# only a comment\n", "\ufeff", b"\xef\xbb\xbf"])
def test_an_empty_file_is_refused_as_empty(text):
    assert refused(text) == ["empty document (the file holds no YAML or JSON value)"]


def test_a_second_document_is_refused_naming_its_line():
    assert refused("id: /a\n---\nid: /b\n") == ["not valid YAML/JSON: line 2, column 1: but found another document"]


# --- cluster files and saved Mesos state --------------------------------------------------------

@pytest.mark.parametrize("state, problem", [
    ({"slaves": [1]}, "slaves[0]: expected a mapping, got 1"),
    ({"slaves": {"a": 1}}, "slaves: expected a list, got {'a': 1}"),
    ({"slaves": [{"id": "S", "hostname": "h", "resources": {"cpus": "x"}}]},
     "slaves[0].resources.cpus: expected a number, got 'x'"),
    ({"slaves": [{"id": "S", "hostname": "h", "resources": {"ports": "[x-y]"}}]},
     "slaves[0].resources.ports: expected port ranges such as [31000-31099, 31200-31299], got '[x-y]'"),
    ({"slaves": [{"id": "S", "hostname": "h", "reserved_resources": [1]}]},
     "slaves[0].reserved_resources: expected a mapping, got [1]"),
    ({"slaves": [{"id": "S", "hostname": "h", "domain": 1}]}, "slaves[0].domain: expected a mapping, got 1"),
    ({"slaves": [], "frameworks": [{"tasks": 7}]}, "frameworks[0].tasks: expected a list, got 7"),
    ({"slaves": [{"hostname": "h"}]}, "slaves[0].id: required"),
])
def test_a_saved_master_state_of_the_wrong_shape_is_refused_with_the_path(state, problem):
    # each was AttributeError or TypeError
    with pytest.raises(ValidationError) as err:
        load_cluster(state, "state.json")
    assert problem in [str(p) for p in err.value.problems]


def test_a_saved_master_state_still_reads_tasks_with_labels_in_either_form():
    slave = {"id": "S", "hostname": "h", "resources": {"cpus": 2, "mem": 64, "ports": "[31000-31001]"},
             "used_resources": {"ports": "[31000-31000]"}}
    tasks = [{"slave_id": "S", "state": "TASK_RUNNING", "labels": [{"key": "HALYARD_APP_ID", "value": "/a"}]},
             {"slave_id": "S", "state": "TASK_RUNNING", "labels": {"labels": [{"key": "MARATHON_APP_ID", "value": "/a"}]}},
             {"slave_id": "S", "state": "TASK_FINISHED", "labels": [{"key": "HALYARD_APP_ID", "value": "/a"}]}]
    [agent] = load_cluster({"slaves": [slave], "frameworks": [{"tasks": tasks}]})
    assert agent.app_tasks == {"/a": 2} and agent.ports["*"] == ((31001, 31001),)


def test_a_cluster_file_task_with_a_bad_app_id_is_refused_with_its_path():
    # was ValueError from normalize_app_id, after validation
    doc = {"agents": [{"id": "a", "hostname": "h", "tasks": [{"app": "/ok"}, {"app": "Not An Id"}]}]}
    with pytest.raises(ValidationError) as err:
        load_cluster(doc)
    assert [p.path for p in err.value.problems] == ["agents[0].tasks[1].app"]


def test_instances_past_marathons_32_bit_integer_is_refused():
    # 10**400 instances were accepted; Marathon refuses more than its 32-bit integer holds
    from halyard.spec.validation import app_problems

    assert app_problems({"id": "/a", "cmd": "x", "instances": 2**31 - 1})[1] == []
    _, problems = app_problems({"id": "/a", "cmd": "x", "instances": 10**400})
    assert [str(p) for p in problems] == ["instances: input should be less than or equal to 2147483647"]
