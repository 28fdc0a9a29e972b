"""The client-frame parser of /ws (bridge/web/commands.py), fuzzed: whatever a client sends,
the answer is a command or a BadFrame with a code from docs/protocol.md, never another error."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from bridge.web import commands
from bridge.web.commands import Auth, BadFrame, Follow, Ping, Subscribe, Unsubscribe

KINDS = ["auth", "subscribe", "unsubscribe", "ping", "pong", "", "SUBSCRIBE", "subscribe\n"]
FIELDS = ["type", "channel", "since", "filter", "token", "ref", "event_type"]

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**30), max_value=10**30)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=80)
    | st.sampled_from([*KINDS, "demo", "demo\n", "0-0", "1-1\n", "*", "a" * 70]),
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(st.sampled_from(FIELDS) | st.text(max_size=8), inner, max_size=5)
    ),
    max_leaves=20,
)
frames = st.fixed_dictionaries(
    {"type": st.sampled_from(KINDS) | json_values},
    optional={name: json_values for name in FIELDS[1:]},
)


def outcome(raw: str | bytes) -> str:
    """Parse, and say what came out: the command's class or the error frame's code."""
    try:
        command, ref = commands.parse(raw)
    except BadFrame as exc:
        bad = exc
    else:
        assert isinstance(command, Auth | Subscribe | Follow | Unsubscribe | Ping)
        assert ref is None or (isinstance(ref, str | int) and not isinstance(ref, bool))
        return type(command).__name__
    assert bad.code == "bad_request"
    assert len(bad.message) < 300
    assert bad.ref is None or isinstance(bad.ref, str | int)
    json.dumps({"message": bad.message, "ref": bad.ref})  # it can go back in a frame
    return bad.code


@settings(max_examples=400, deadline=None)
@given(frame=frames)
@example(frame={"type": "subscribe", "channel": "*", "since": {}})  # found by a full run
def test_structured_frames_give_a_command_or_a_bad_request(frame: dict[str, Any]) -> None:
    """Any JSON object with any mix of the known fields, of any type, parses or is bad_request."""
    result = outcome(json.dumps(frame))
    if result in ("Subscribe", "Follow"):
        command, _ = commands.parse(json.dumps(frame))
        if isinstance(command, Subscribe):
            assert "\n" not in command.channel
            assert command.since is None or isinstance(command.since, tuple)
        else:
            assert isinstance(command, Follow)
            assert "\n" not in command.channels
            assert all(isinstance(c, tuple) for c in command.since.values())


@settings(max_examples=300, deadline=None)
@given(value=json_values)
def test_any_json_value_is_answered(value: Any) -> None:
    """Arrays, numbers, strings, null at the top level: bad_request, never a crash."""
    outcome(json.dumps(value))


@settings(max_examples=300, deadline=None)
@given(raw=st.text(max_size=200) | st.binary(max_size=200))
def test_arbitrary_text_and_bytes_are_answered(raw: str | bytes) -> None:
    """Text that is not JSON, and bytes that are not UTF-8, give bad_request."""
    outcome(raw)


WORST = [
    pytest.param("[" * 10_000 + "]" * 10_000, id="arrays-10000-deep"),
    pytest.param("[" * 60_000, id="unclosed-arrays-60000-deep"),
    pytest.param('{"a":' * 10_000 + "1" + "}" * 10_000, id="objects-10000-deep"),
    pytest.param('{"type": "subscribe", "channel": "demo", "since": ' + "[" * 10_000
                 + "]" * 10_000 + "}", id="since-nested-10000-deep"),
    pytest.param('{"type": "ping", "ref": ' + "9" * 5000 + "}", id="ref-5000-digits"),
    pytest.param('{"type": ' + "1" * 4000 + "}", id="type-4000-digits"),
    pytest.param('{"type": "subscribe", "channel": "demo\\n"}', id="channel-trailing-newline"),
    pytest.param('{"type": "subscribe", "channel": "demo", "since": 5}', id="since-number"),
    pytest.param('{"type": "subscribe", "channel": "demo", "since": "1-1\\n"}', id="since-newline"),
    pytest.param('{"type": "subscribe", "channel": "demo", "since": "' + "9" * 40 + '"}',
                 id="since-40-digits"),
    pytest.param('{"type": "subscribe", "channel": "demo", "filter": {"event_type": ' + "[" * 5000
                 + "]" * 5000 + "}}", id="filter-nested"),
    pytest.param('{"type": "subscribe", "channel": ["demo"]}', id="channel-list"),
    pytest.param('{"type": "x" ' + " " * 60_000 + "}", id="whitespace"),
    pytest.param('{"type": "' + "\\ud800" * 1000 + '"}', id="lone-surrogates"),
    pytest.param(b"\xff\xfe" * 100, id="not-utf8"),
    pytest.param("NaN", id="nan"),
]  # fmt: skip


@pytest.mark.parametrize("raw", WORST)
def test_the_worst_frames_are_bad_requests(raw: str | bytes) -> None:
    """Each of the worst client frames is refused with bad_request, not an exception."""
    assert outcome(raw) == "bad_request"


def test_a_ref_that_is_not_a_string_or_whole_number_is_not_echoed() -> None:
    """An infinite, boolean or nested `ref` is ignored: the frame is answered without one."""
    for ref in ("1e999999", "true", "[[1]]", "1.5"):
        assert commands.parse('{"type": "ping", "ref": ' + ref + "}") == (Ping(), None)


@pytest.mark.parametrize(
    ("raw", "problem"),
    [
        ('{"type": "ping", "ref": ' + "1" * 5000 + "}", "a number with more than 4300 digits"),
        ("[" * 200 + "]" * 200, "JSON nested more than"),
        ('{"type": "ping"', "not JSON at line 1 column 16"),
    ],
)
def test_a_frame_the_bridge_cannot_read_says_why(raw: str, problem: str) -> None:
    """Valid JSON past a limit (5,000 digits, 200 levels) is not called invalid: the message
    names the limit, as the admin API's does, and broken JSON names where."""
    with pytest.raises(BadFrame) as refused:
        commands.parse(raw)
    assert refused.value.message.startswith("frame is not JSON the bridge reads: ")
    assert problem in refused.value.message


def test_a_bad_cursor_in_a_since_map_is_named_by_its_key() -> None:
    """Of a glob subscribe's map, the entry whose cursor is bad is named."""
    raw = '{"type": "subscribe", "channel": "*", "since": {"good": "1-0", "demo": "bad"}}'
    with pytest.raises(BadFrame) as refused:
        commands.parse(raw)
    assert refused.value.message == "since: 'demo': expected a cursor like 1732590000000-0"


def test_a_good_subscribe_parses_into_its_fields() -> None:
    """A subscribe with every option gives a Subscribe with the cursor parsed and the glob."""
    raw = json.dumps({"type": "subscribe", "channel": "demo", "since": "5-2",
                      "filter": {"event_type": "push.*"}, "ref": "r1"})  # fmt: skip
    assert commands.parse(raw) == (Subscribe("demo", (5, 2), "push.*"), "r1")


def test_a_frame_naming_a_member_twice_is_refused_naming_it() -> None:
    """`{"channel": "a", "channel": "b"}` is a bad_request naming `channel`, not a subscribe
    to whichever came last (the admin API refuses such a body too)."""
    raw = '{"type": "subscribe", "channel": "a", "channel": "b", "ref": "r"}'
    with pytest.raises(BadFrame) as refused:
        commands.parse(raw)
    assert refused.value.code == "bad_request"
    assert refused.value.message == "frame is not settled JSON: member 'channel' given twice"
    nested = '{"type": "subscribe", "channel": "a", "filter": {"q": "x", "q": "y"}}'
    with pytest.raises(BadFrame, match="member 'q' given twice"):
        commands.parse(nested)


def test_members_a_subscribe_has_no_use_for_are_named_not_refused() -> None:
    """A misspelt `sinse` or a client's own field is carried as `ignored`; known ones are not."""
    parsed, _ = commands.parse(
        '{"type": "subscribe", "channel": "demo", "sinse": "0-0", "x-client": 1, "ref": 3}'
    )
    assert parsed == Subscribe("demo", None, None, ignored=("sinse", "x-client"))
    glob, _ = commands.parse('{"type": "subscribe", "channel": "d*", "filters": {}}')
    assert isinstance(glob, Follow)
    assert glob.ignored == ("filters",)
