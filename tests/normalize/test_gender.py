import pytest

from dadkhah.normalize.gender import GenderParseError, parse_gender


@pytest.mark.parametrize(
    ("text", "expected"),
    [("M", "male"), ("m", "male"), ("Male", "male"), ("مرد", "male"), ("مذکر", "male"), ("F", "female"),
     ("female", "female"), ("زن", "female"), ("مونث", "female"), ("مؤنث", "female"), ("Woman", "female"),
     ("", None), (None, None), ("نامعلوم", None), ("?", None)],
)
def test_parse_gender(text, expected):
    assert parse_gender(text) == expected


@pytest.mark.parametrize("text", ["X", "2", "maybe"])
def test_unknown_gender_is_an_error_quoting_it(text):
    with pytest.raises(GenderParseError, match=repr(text)):
        parse_gender(text)
