"""Input paths (``creds[0].pw``): parse, format, get, set, delete, merge; ``--set`` into a list."""

from __future__ import annotations

import pytest

from workflow_runner import inputpath, inputs
from workflow_runner.errors import InputError


@pytest.mark.parametrize("text, parts", [
    ("a", ("a",)), ("a.b", ("a", "b")), ("creds[0].pw", ("creds", 0, "pw")), ("m[1][2]", ("m", 1, 2)),
    ("l.0.k", ("l", "0", "k")), (" a.b ", ("a", "b")),
])
def test_parse(text, parts):
    assert inputpath.parse(text) == parts


@pytest.mark.parametrize("text", ["", ".a", "a..b", "a.", "[0]", "a[x]", "a[0", "a[0]b"])
def test_parse_refuses_malformed_paths(text):
    with pytest.raises(inputpath.PathError):
        inputpath.parse(text)


def test_format_round_trips():
    for text in ("a", "a.b", "creds[0].pw", "m[1][2].x"):
        assert inputpath.format(inputpath.parse(text)) == text


def test_get_set_delete_in_a_tree():
    tree = {"creds": [{"user": "u", "pw": "p"}, {"user": "v"}], "g": {"x": 1}}
    assert inputpath.get(tree, "creds[0].pw") == "p"
    assert inputpath.get(tree, "creds.1.user") == "v"  # the resolver's dotted form
    assert inputpath.get(tree, "creds[5].pw", "none") == "none"
    assert inputpath.get(tree, "g.x.y") is None
    assert inputpath.has(tree, "g.x") and not inputpath.has(tree, "g.y")
    inputpath.set_in(tree, "creds[1].pw", "q")
    inputpath.set_in(tree, "new[2].k", 3)
    assert tree["creds"][1] == {"user": "v", "pw": "q"} and tree["new"] == [None, None, {"k": 3}]
    assert inputpath.without(tree, ["creds[0].pw", "g.x", "nope.x"]) == {
        "creds": [{"user": "u"}, {"user": "v", "pw": "q"}], "g": {}, "new": [None, None, {"k": 3}]}
    assert tree["creds"][0]["pw"] == "p"  # without() copies
    assert inputpath.delete(tree, "creds[1]") and tree["creds"][1] is None
    with pytest.raises(inputpath.PathError):
        inputpath.set_in(tree, "g.x.y", 1)


def test_set_into_a_list_changes_only_that_item():
    layers = [("stored", {"creds": [{"user": "u"}, {"user": "v", "pw": "***"}], "n": 1}),
              ("--set", inputs.parse_set(["creds[0].pw=secret", "creds[1].pw=other"]))]
    merged = inputs.Sources(layers).merged()
    assert merged == {"creds": [{"user": "u", "pw": "secret"}, {"user": "v", "pw": "other"}], "n": 1}
    assert inputs.Sources(layers).origin("creds.0.pw") == "--set"
    assert inputs.Sources(layers).origin("creds.1.user") == "stored"
    assert inputs.Sources([("--set", inputs.parse_set(["l[1]=x"]))]).merged() == {"l": [None, "x"]}


def test_set_errors_name_the_option():
    with pytest.raises(InputError) as excinfo:
        inputs.parse_set(["l[x].a=1"])
    assert str(excinfo.value) == "--set: bad index in 'l[x].a' (expected [N])"
