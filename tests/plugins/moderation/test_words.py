"""The blocked-word filter: whole words in any case, in every string of a message, refused or masked."""

from plugins.moderation.words import WordFilter, word_pattern


def test_whole_words_any_case_only():
    f = WordFilter(["darn", "heck it"], "*")
    assert f.found(("Oh DARN!",))
    assert f.found(({"msg": "well heck it then"},))
    assert not f.found(("darning socks", "heckle"))
    assert not f.found((1, None, True, [2.5]))


def test_masking_keeps_shape_and_length_and_leaves_the_input_alone():
    f = WordFilter(["darn"], "#")
    original = ("room1", {"nickName": "ann", "msg": "darn, Darn it", "cid": "x"}, ["darn", 3])
    masked = f.masked(original)
    assert masked == ("room1", {"nickName": "ann", "msg": "####, #### it", "cid": "x"}, ["####", 3])
    assert original[1]["msg"] == "darn, Darn it"


def test_non_latin_words():
    f = WordFilter(["바보"], "*")
    assert f.found(("너 바보 야",))
    assert f.masked(("너 바보 야",)) == ("너 ** 야",)


def test_deep_nesting_does_not_overflow():
    value: list = ["darn"]
    for _ in range(5000):
        value = [value]
    f = WordFilter(["darn"], "*")
    assert f.found((value,))
    masked = f.masked((value,))[0]
    for _ in range(5000):
        masked = masked[0]
    assert masked == ["****"]


def test_empty_list_matches_nothing():
    assert word_pattern(["", "  "]) is None
    assert not WordFilter([], "*").found(("anything",))
