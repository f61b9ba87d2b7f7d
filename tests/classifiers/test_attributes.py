import pytest

from classifiers.attributes import (
    UnknownAttributeError,
    attribute_indices,
    match_attribute_columns,
    normalize_attribute_name,
    resolve_attributes,
)
from genomekit.errors import UserError

NAMES = ("5_o_Clock_Shadow", "Smiling", "No_Beard", "Wearing_Hat", "Male")


def test_matching_ignores_case_and_punctuation():
    assert resolve_attributes(["smiling", "no beard", "WEARING-HAT", "5 o'clock shadow"], NAMES) == (
        "Smiling",
        "No_Beard",
        "Wearing_Hat",
        "5_o_Clock_Shadow",
    )
    assert normalize_attribute_name("No_Beard") == normalize_attribute_name("no-beard") == "nobeard"


def test_comma_separated_string_and_duplicates():
    assert resolve_attributes("smiling, male,Smiling", NAMES) == ("Smiling", "Male")
    assert attribute_indices("male,smiling", NAMES) == [4, 1]


def test_unknown_name_suggests_close_matches():
    with pytest.raises(UnknownAttributeError) as info:
        resolve_attributes(["smilng"], NAMES)
    message = str(info.value)
    assert message.startswith("unknown attribute 'smilng'; did you mean: Smiling? Known: ")
    assert "Wearing_Hat" in message and "\n" not in message
    assert isinstance(info.value, UserError)


def test_unknown_name_without_close_match_lists_known():
    with pytest.raises(UserError, match=r"unknown attribute 'tentacles'\. Known: 5_o_Clock_Shadow"):
        resolve_attributes("tentacles", NAMES)


def test_match_columns_reports_missing_names():
    assert match_attribute_columns(["smiling", "MALE"], NAMES) == [1, 4]
    with pytest.raises(UserError, match=r"attributes differ.*1 of 2.*Eyeglasses"):
        match_attribute_columns(["Male", "Eyeglasses"], NAMES)
