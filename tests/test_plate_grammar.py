"""Plate grammars: normalisation, VN/CN/generic matching, position-based fixes, display."""

import pytest

from edge.domain.plate_grammar import VN_UNISSUED_CODES, best_match, display, label_key, match, normalise


def test_normalise_strips_separators_and_folds_width():
    assert normalise("59-E1 252.97") == "59E125297"
    assert normalise("川A·Y116F") == "川AY116F"
    assert normalise("ＭＳＫＵ") == "MSKU"
    assert normalise("RK²576AH") == "RK576AH"  # coat of arms read as a superscript is not a digit
    assert normalise("闽H·B|508") == "闽HBI508"


def test_label_key_matches_eval_convention():
    assert label_key("59-P1 664.80") == "59P166480"
    assert label_key("川A·Y116F") == "川AY116F"


@pytest.mark.parametrize(
    "raw, text, fmt",
    [
        ("30A-123.45", "30A12345", "vn_truck"),
        ("24C-1234", "24C1234", "vn_truck"),
        ("51R-141.39", "51R14139", "vn_trailer"),
        ("80NG63670", "80NG63670", "vn_foreign"),
        ("29-B1 123.45", "29B112345", "vn_moto"),
        ("川A·Y116F", "川AY116F", "cn_ordinary"),
        ("粤A12345D", "粤A12345D", "cn_nev"),
        ("桂A1234挂", "桂A1234挂", "cn_trailer"),
    ],
)
def test_valid_plates_match_their_format(raw, text, fmt):
    m = best_match(raw)
    assert m is not None and m.text == text and m.format == fmt and m.corrections == 0


def test_vn_letter_digit_confusions_fixed_by_position():
    m = best_match("5lF-882.70")  # l in a digit slot
    assert m is not None and m.text == "51F88270" and m.country == "VN" and m.corrections == 1
    # two fixes: still a VN reading, but an exact generic reading now ranks first (no VN bias beyond one fix)
    ms = match("5lF-882.7O")
    assert any(g.text == "51F88270" and g.corrections == 2 for g in ms)
    m = best_match("3OA-123.45")
    assert m.text == "30A12345"
    m = best_match("308-123.45")  # 8 in the series-letter slot is a B
    assert m.text == "30B12345"


def test_cn_serial_never_contains_i_or_o():
    m = best_match("川A1O5LR")
    assert m.text == "川A105LR" and m.format == "cn_ordinary"


def test_cn_requires_one_of_the_31_provinces():
    assert all(g.country != "CN" for g in match("MAY116F"))
    assert all(g.country != "CN" for g in match("台AY116F"))


def test_dates_are_not_vn_plates():
    assert all(g.country != "VN" for g in match("2015/05/11"))


def test_generic_needs_letters_and_digits():
    assert not match("NORTH")
    assert not match("123456")
    assert match("WA56660")[0].country == "OTHER"


def test_national_grammar_fixes_o_and_i_outside_vn_cn():
    assert match("BA3020Z")[0].text == "BA302OZ"
    assert match("BA2681M")[0].text == "BA268IM"


def test_foreign_national_grammar_beats_a_twice_corrected_vn_reading():
    assert match("1B80338")[0].text == "1B80338"


def test_eu_band_read_as_leading_character_is_dropped():
    m = match("PRK248AH")[0]
    assert m.text == "RK248AH" and m.dropped_first


@pytest.mark.parametrize(
    "text, fmt, groups, shown",
    [
        ("30A12345", "vn_truck", (2, 1, 5), "30A-123.45"),
        ("24C1234", "vn_truck", (2, 1, 4), "24C-1234"),
        ("29B112345", "vn_moto", (2, 2, 5), "29-B1 123.45"),
        ("川AY116F", "cn_ordinary", (2, 4, 1), "川A·Y116F"),
    ],
)
def test_display(text, fmt, groups, shown):
    assert display(text, fmt, groups) == shown


def test_czech_inspection_stickers_read_as_a_character_are_dropped():
    m = match("1Z785233")[0]
    assert m.text == "1Z75233" and m.format == "cz" and m.dropped_sticker
    assert match("2T480211")[0].text == "2T40211"


def test_slovak_coat_of_arms_read_as_zero_is_dropped():
    m = match("RK0565AV")[0]
    assert m.text == "RK565AV" and m.format == "eu_aa999aa" and m.dropped_sticker


def test_sticker_drop_costs_more_than_an_exact_read_and_leaves_vn_plates_alone():
    assert match("51F88270")[0].text == "51F88270"  # 8 characters, an 8 in slot 3: VN truck as read
    assert match("1Z785233")[0].cost > match("1Z75233")[0].cost
    assert not any(m.dropped_sticker for m in match("RKD565AV"))  # only round glyphs stand for an emblem


# Every VN series in circulation (domain.md §2, Circular 79/2024; issue 17), one case each: the text read as
# the grammar's own, with no correction.
@pytest.mark.parametrize(
    "raw, text, fmt",
    [
        ("30A-123.45", "30A12345", "vn_truck"),  # car/truck, one series letter, 5-digit serial
        ("24C-1234", "24C1234", "vn_truck"),  # 4-digit serial (older plates)
        ("51LD-123.45", "51LD12345", "vn_special"),  # LD: foreign-invested enterprises
        ("29AA-123.45", "29AA12345", "vn_truck"),  # two series letters (cars; the 2-letter motorbike series)
        ("51R-141.39", "51R14139", "vn_trailer"),  # R: trailers and semi-trailers
        ("29-B1 123.45", "29B112345", "vn_moto"),  # motorbike: letter + digit
        ("29-AB 123.45", "29AB12345", "vn_truck"),  # 2-letter motorbike series (same text as a car's)
        ("43-Đ1 123.45", "43Đ112345", "vn_moto"),  # Đ series letter
        ("29-MĐ1 123.45", "29MĐ112345", "vn_special"),  # MĐ: electric motorbikes
        ("29-MD1 123.45", "29MD112345", "vn_special"),  # ... as recognisers and labels write it (Đ → D)
        ("29TĐ-123.45", "29TĐ12345", "vn_special"),  # TĐ: assembled vehicles
        ("80NG-636.70", "80NG63670", "vn_foreign"),  # NG: diplomatic
        ("80NN-123.45", "80NN12345", "vn_foreign"),  # NN: foreigners
        ("80QT-123.45", "80QT12345", "vn_foreign"),  # QT: international organisations
        ("80123NG123", "80123NG123", "vn_foreign"),  # 5-digit country/organisation prefix
        ("29KT-123.45", "29KT12345", "vn_special"),  # KT: economic (military enterprises)
        ("29DA-123.45", "29DA12345", "vn_special"),  # DA: projects
        ("29MK-1234", "29MK1234", "vn_special"),  # MK: special machinery
        ("29HC-123.45", "29HC12345", "vn_special"),  # HC: restricted
        ("T29-12345", "T2912345", "vn_temp"),  # temporary
    ],
)
def test_every_vn_series_in_circulation(raw, text, fmt):
    m = best_match(raw)
    assert m is not None and m.country == "VN" and m.text == text and m.format == fmt and m.corrections == 0


def test_label_key_folds_the_series_letter_d_with_stroke():
    # ../shared labels write Đ as D; a read with Đ is the same plate
    assert label_key("29-MĐ1 123.45") == label_key("29MD112345") == "29MD112345"


# Foreign layouts (issue 17): read through their own or the generic grammar, never forced into a VN or CN plate.
@pytest.mark.parametrize(
    "raw, fmt",
    [
        ("AB 123 CD", "eu_aa999aa"),  # Argentina (Mercosur), Italy, France
        ("1AB 2345", "cz"),
        ("ABC1D23", "br"),  # Brazil (Mercosur)
        ("1234 BCD", "es"),
        ("AB12 CDE", "uk"),
        ("ABC 123", "other"),  # Argentina (old)
        ("ABC-1234", "br"),  # Taiwan: same shape as Brazil's old plates; the country is OTHER either way
        ("KA 01 AB 1234", "in"),  # India, 10 characters
        ("DL 3C AF 5030", "in"),
        ("A123BC77", "other"),  # Russia
    ],
)
def test_foreign_layouts_are_never_vn_or_cn(raw, fmt):
    m = best_match(raw)
    assert m is not None and m.format == fmt and m.country == "OTHER"
    assert all(not g.format.startswith(("vn_", "cn_")) for g in match(raw, max_corrections=0))


@pytest.mark.parametrize("code", sorted(VN_UNISSUED_CODES))
def test_a_vn_reading_with_an_unissued_locality_code_is_no_vn_plate(code):
    # worse cameras turn 30A61153 into 10A61153 and 30F93591 into 13DF93591: codes no province has
    for text in (f"{code}A61153", f"{code}DF93591", f"{code}B112345", f"{code}R14139", f"{code}LD12345"):
        assert all(g.country != "VN" for g in match(text)), text
    assert best_match(f"{code}A61153") is None or best_match(f"{code}A61153").country != "VN"


@pytest.mark.parametrize("code", ["11", "12", "14", "23", "24", "29", "39", "41", "80", "99"])
def test_issued_locality_codes_still_read(code):
    m = best_match(f"{code}C12345")
    assert m is not None and m.country == "VN" and m.text == f"{code}C12345"
