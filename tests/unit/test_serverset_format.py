"""Service discovery's wire format has one owner: what the scheduler's writer encodes is what
``halyard lb`` decodes, byte for byte the same as the tools' hand-written members."""
from __future__ import annotations

from halyard.engine.members import Member as Announced
from halyard.store import serverset_format as fmt
from halyard.store.serverset_format import Endpoint, Member

TASK = Announced("/examples/hello", "t1", "10.0.0.2", (31000, 31001, 31002), (None, "admin", None), 3, 1_700_000_000.5)


def test_the_writer_s_bytes_are_canonical_aurora_json():
    assert fmt.encode(fmt.serverset_body(TASK)) == (
        b'{"additionalEndpoints":{"admin":{"host":"10.0.0.2","port":31001}},'
        b'"serviceEndpoint":{"host":"10.0.0.2","port":31000},"shard":3,"status":"ALIVE"}')


def test_what_the_writer_encodes_the_load_balancer_decodes():
    read = fmt.parse_member(f"{fmt.MEMBER_PREFIX}0000000012", fmt.encode(fmt.serverset_body(TASK)))
    assert read == Member("member_0000000012", Endpoint("10.0.0.2", 31000), {"admin": Endpoint("10.0.0.2", 31001)},
                          "ALIVE", 3)
    assert read.endpoint(1, "admin") == Endpoint("10.0.0.2", 31001) and read.endpoint(2, None) is None


def test_a_member_announced_by_hand_is_the_writer_s_encoding():
    assert fmt.member_body("10.0.0.2", 31000, 3, {"admin": ("10.0.0.2", 31001)}) == fmt.encode(fmt.serverset_body(TASK))
    written_elsewhere = (b'{"shard": 3, "status": "ALIVE", "serviceEndpoint": {"port": 31000, "host": "10.0.0.2"}, '
                         b'"additionalEndpoints": {"admin": {"host": "10.0.0.2", "port": 31001}}}')
    assert fmt.canonical(written_elsewhere) == fmt.encode(fmt.serverset_body(TASK))


def test_each_format_has_its_layout():
    assert fmt.directory("/halyard/discovery/", "/examples/hello", "serverset") == "/halyard/discovery/examples/hello"
    assert fmt.directory("/halyard/discovery", "/examples/hello", "curator") == "/halyard/discovery/hello-examples"
