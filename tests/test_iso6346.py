"""ISO 6346 grammar, check digit, guided correction and size/type decoding."""

from __future__ import annotations

import pytest

from edge.domain import iso6346 as iso


def test_letter_values_skip_multiples_of_eleven():
    assert iso.LETTER_VALUES["A"] == 10
    assert iso.LETTER_VALUES["B"] == 12  # 11 skipped
    assert iso.LETTER_VALUES["L"] == 23  # 22 skipped
    assert iso.LETTER_VALUES["V"] == 34  # 33 skipped
    assert iso.LETTER_VALUES["Z"] == 38
    assert 11 not in iso.LETTER_VALUES.values() and 22 not in iso.LETTER_VALUES.values()


@pytest.mark.parametrize("first10,digit", [("MWCU605978", 4), ("CSQU305438", 3), ("MSKU370403", 5),
                                           ("HLXU855141", 8)])
def test_check_digit_worked_examples(first10, digit):
    assert iso.check_digit(first10) == digit


def test_remainder_ten_is_written_zero():
    # find a serial whose weighted sum is 10 mod 11: its check digit is 0, not "10"
    for n in range(1000):
        first10 = f"ABCU{n:06d}"
        total = sum(iso.char_value(c) << i for i, c in enumerate(first10))
        if total % 11 == 10:
            assert iso.check_digit(first10) == 0
            assert iso.validate(first10 + "0")
            return
    pytest.fail("no remainder-10 serial found")


def test_validate():
    assert iso.validate("MWCU6059784")
    assert iso.validate("csqu3054383")  # case-insensitive
    assert not iso.validate("MWCU6059785")  # wrong check digit
    assert not iso.validate("MWCA6059784")  # category must be U, J or Z
    assert not iso.validate("MWCU605978")  # check digit missing
    with pytest.raises(ValueError):
        iso.check_digit("MWC1605978")


def test_full_width_and_junk_are_normalised():
    (cand,) = [c for c in iso.find_codes("ＭＷＣＵ　６０５９７８　４") if c.check_digit_ok]
    assert cand.code == "MWCU6059784" and not cand.corrected
    assert iso.clean("msku-370.403 [5]") == "MSKU3704035"


def test_digit_in_owner_code_is_corrected_and_reported():
    cand = iso.parse_code("MWC0 605978 4")  # category U read as 0
    assert cand.code == "MWCU6059784" and cand.check_digit_ok and cand.corrected
    cand = iso.parse_code("C5QU 305438 3")  # S read as 5
    assert cand.code == "CSQU3054383" and cand.corrected and cand.changes == [(1, "5", "S")]


def test_letter_in_serial_is_corrected():
    cand = iso.parse_code("MWCU 6O5978 4")  # O for 0
    assert cand.code == "MWCU6059784" and cand.check_digit_ok and cand.corrected
    cand = iso.parse_code("CSQU 3O5438 3")
    assert cand.code == "CSQU3054383" and cand.check_digit_ok


def test_check_digit_picks_among_lookalike_readings():
    # '0' in the owner code could be O, Q or D; only one of them verifies
    code = "DOLU1234567"
    good = code[:10] + str(iso.check_digit(code[:10]))
    cand = iso.parse_code("0OLU" + good[4:])
    assert cand.check_digit_ok and cand.code == good and cand.corrected


def test_same_class_error_corrected_only_at_a_weak_character():
    # 3 misread as 8 in the serial: fixable when the recogniser flagged that character as uncertain
    raw = "CSQU8054383"
    confs = [0.99] * 11
    confs[4] = 0.45
    cand = iso.parse_code(raw, confs)
    assert cand.check_digit_ok and cand.code == "CSQU3054383" and cand.corrected
    # same string, every character confident: no guess, no read
    cand = iso.parse_code(raw, [0.99] * 11)
    assert not cand.check_digit_ok and not cand.corrected


def test_ambiguous_correction_is_refused():
    # With a check digit of 0 (remainder 0 or 10), two look-alikes at one weak position can both verify:
    # the reader must refuse rather than pick one.
    found = None
    for n in range(2000):
        first10 = f"TGHU{n:06d}"
        if iso.check_digit(first10) != 0:
            continue
        for pos in range(4, 10):
            raw = first10[:pos] + "8" + first10[pos + 1:] + "0"
            if not iso.validate(raw) and len(iso.single_substitutions(raw, [pos])) >= 2:
                found = (raw, pos)
                break
        if found:
            break
    assert found, "no ambiguous case constructed"
    raw, pos = found
    confs = [0.99] * 11
    confs[pos] = 0.3
    cand = iso.parse_code(raw, confs)
    assert not cand.check_digit_ok and not cand.corrected


def test_missing_check_digit_is_never_computed():
    (cand,) = iso.find_codes("MWCU 605978")
    assert cand.code == "MWCU605978" and not cand.check_digit_ok and not cand.complete


def test_boxed_check_digit_glyph_counts_as_missing():
    cands = iso.find_codes("MWCU605978口")
    assert cands and all(not c.check_digit_ok for c in cands)
    assert cands[0].code == "MWCU605978"


def test_second_sighting_completes_a_dropped_check_digit():
    partial = iso.find_codes("MWCU 605978")[0]
    full = iso.find_codes("MWCU 605978 4")[0]
    merged = iso.merge_sightings([partial, full])
    assert [c.code for c in merged] == ["MWCU6059784"]
    # a partial without a verified twin stays partial and unverified
    other = iso.find_codes("CSQU 305438")[0]
    merged = iso.merge_sightings([partial, other])
    assert sorted(c.code for c in merged) == ["CSQU305438", "MWCU605978"]
    assert not any(c.check_digit_ok for c in merged)


def test_split_u_is_recovered():
    cands = [c for c in iso.find_codes("MRKII 849 155 8") if c.check_digit_ok]
    assert [c.code for c in cands] == ["MRKU8491558"] and cands[0].corrected


def test_codes_must_stand_on_token_boundaries():
    # a code-shaped window inside a longer number run is not a code
    assert not [c for c in iso.find_codes("X12MWCU605978499") if c.check_digit_ok]
    assert [c.code for c in iso.find_codes("TEL MWCU 605978 4 45G1") if c.check_digit_ok] == ["MWCU6059784"]


def test_several_codes_in_one_text():
    codes = {c.code for c in iso.find_codes("MWCU6059784 CSQU3054383") if c.check_digit_ok}
    assert codes == {"MWCU6059784", "CSQU3054383"}


@pytest.mark.parametrize("code,length,height,kind", [
    ("22G1", "20 ft", "8'6\"", "general purpose"),
    ("42G1", "40 ft", "8'6\"", "general purpose"),
    ("45G1", "40 ft", "9'6\"", "general purpose"),
    ("L5G1", "45 ft", "9'6\"", "general purpose"),
    ("45R1", "40 ft", "9'6\"", "refrigerated and heated"),
    ("22U1", "20 ft", "8'6\"", "open top"),
    ("22T6", "20 ft", "8'6\"", "tank, dangerous liquids"),
    ("2210", "20 ft", "8'6\"", "general purpose"),  # pre-1995 numeric form
    ("4532", "40 ft", "9'6\"", "refrigerated"),
])
def test_size_type_decoding(code, length, height, kind):
    st = iso.decode_size_type(code)
    assert st is not None
    assert (st.length, st.height, st.kind) == (length, height, kind)
    assert st.text == f"{length}, {height}, {kind}"


def test_size_type_rejects_junk_and_fixes_type_letter():
    assert iso.decode_size_type("99X1") is None
    assert iso.decode_size_type("22G") is None
    assert iso.find_size_type("4561").code == "45G1"  # G read as 6
    assert iso.find_size_type("22C1").code == "22G1"
    assert iso.find_size_type("MAX GROSS") is None


def test_primary_lookalike_reading_wins_when_it_verifies():
    # '00LU…': 0 -> O is the usual confusion; 0 -> Q/D readings that also verify must not block it.
    cand = iso.find_codes("00LU0993764")[0]
    assert cand.code == "OOLU0993764" and cand.check_digit_ok and cand.corrected
    assert cand.changes == [(0, "0", "O"), (1, "0", "O")]


def test_two_coercions_only_when_routine():
    # a cab's fleet number over its weight label: BV60 needs 6->G and 0->U, and BVGU6840000 happens to verify
    assert iso.validate("BVGU6840000")
    assert iso.find_codes("BV6068 40000") == []
    assert iso.parse_code("BV60684000") is None  # nor a 10-character sighting waiting for its check digit
    # the recognisers' routine confusions may still add up to two (OOLU read 00LU; CAIU..2 read CA1U..Z)
    assert iso.find_codes("00LU7531290")[0].code == "OOLU7531290"
    assert iso.find_codes("CA1U897962Z")[0].code == "CAIU8979622"
    # one rare coercion alone is still allowed (a G read as 6)
    full = "MSGU370403" + str(iso.check_digit("MSGU370403"))
    assert iso.find_codes("MS6U370403" + full[-1])[0].code == full


def test_a_stroke_read_as_1_is_refused_when_another_stroke_verifies_too():
    # TGHU2703360 on a compressed photo read 1GHU2703360: I (the usual reading of 1), J and T all verify, because
    # check digit 0 stands for remainders 0 and 10 and J equals T mod 11; the digit cannot choose
    assert all(iso.validate(c + "GHU2703360") for c in "IJT")
    cand = iso.find_codes("1GHU2703360")[0]
    assert cand.code == "IGHU2703360" and not cand.check_digit_ok
    # a stroke whose look-alikes do not verify is still coerced (CA1U… is CAIU)
    assert iso.find_codes("CA1U9857547")[0].check_digit_ok
    # the round glyph has a primary reading: 00LU7531290 is OOLU although DOLU7531290 verifies too
    assert iso.validate("DOLU7531290")
    assert iso.find_codes("00LU7531290")[0].code == "OOLU7531290"
