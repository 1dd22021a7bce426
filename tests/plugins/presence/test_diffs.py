"""Diff messages: joins and leaves per connection, in order, split into bounded messages."""

from plugins.presence.diffs import diff_messages
from plugins.presence.roster import Change


def test_a_diff_lists_joins_and_leaves_with_ids():
    changes = [Change("r", "a1", "ann", since=5), Change("r", "b1", "bob", reason="left")]
    assert diff_messages(changes, 100) == [{
        "joined": [{"id": "a1", "nickName": "ann", "since": 5}],
        "left": [{"id": "b1", "nickName": "bob", "reason": "left"}],
    }]


def test_long_bursts_are_split_in_order():
    changes = [Change("r", f"c{i}", f"n{i}", since=i) for i in range(250)]
    out = diff_messages(changes, 100)
    assert [len(d["joined"]) for d in out] == [100, 100, 50]
    assert [e["id"] for d in out for e in d["joined"]] == [f"c{i}" for i in range(250)]
