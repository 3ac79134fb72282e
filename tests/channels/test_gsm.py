"""GSM-7 detection, typographic straightening and SMS part counting."""

from channels.gsm import GSM7, UCS2, is_gsm7, sms_info, to_gsm7_if_possible


def test_swedish_letters_stay_gsm7():
    text = "Koka vattnet i Bergkarlås, Östra Ryd och Väderstad. Gäller även Ödeshög, É."
    assert is_gsm7(text)
    assert to_gsm7_if_possible(text) == text
    info = sms_info(text)
    assert info.encoding == GSM7
    assert info.length_units == len(text)
    assert info.segments == 1


def test_en_dash_and_curly_quotes_are_straightened():
    text = "Koka vattnet – gäller ”hela” området, även ’Ekön’… tills vidare"
    assert sms_info(text).encoding == UCS2
    straightened = to_gsm7_if_possible(text)
    assert straightened == "Koka vattnet - gäller \"hela\" området, även 'Ekön'... tills vidare"
    assert sms_info(straightened).encoding == GSM7


def test_non_breaking_space_and_em_dash_are_straightened():
    assert to_gsm7_if_possible("kl.\u00a009.00\u2014\u201310.00") == "kl. 09.00--10.00"


def test_nothing_is_replaced_when_the_text_stays_ucs2_anyway():
    text = "Koka vattnet – 💧 tills vidare"
    assert to_gsm7_if_possible(text) == text


def test_emoji_makes_ucs2_with_70_and_67_unit_parts():
    one_part = "💧" + "a" * 68  # the emoji is two UTF-16 units: 70 in all
    assert sms_info(one_part) == sms_info(one_part).__class__(UCS2, 70, 1)
    two_parts = one_part + "a"  # 71 units
    assert sms_info(two_parts).segments == 2
    assert sms_info("💧" + "a" * 132).length_units == 134  # exactly 2 x 67
    assert sms_info("💧" + "a" * 132).segments == 2
    assert sms_info("💧" + "a" * 133).segments == 3


def test_surrogate_pair_is_not_split_between_parts():
    text = "a" * 66 + "💧" + "a" * 10  # the emoji would straddle the 67-unit boundary
    assert sms_info(text).length_units == 78
    assert sms_info(text).segments == 2
    assert sms_info("a" * 66 + "💧" + "a" * 66).segments == 3  # 66 | 2+65 | 1


def test_gsm7_segment_boundaries():
    assert sms_info("a" * 160).segments == 1
    assert sms_info("a" * 161).segments == 2
    assert sms_info("a" * 306).segments == 2
    assert sms_info("a" * 307).segments == 3


def test_extension_characters_count_two():
    text = "€" + "a" * 158  # 2 + 158 = 160 septets
    info = sms_info(text)
    assert (info.encoding, info.length_units, info.segments) == (GSM7, 160, 1)
    assert sms_info(text + "a").segments == 2
    assert sms_info("[]{}^~|\\").length_units == 16


def test_escape_pair_is_not_split_between_parts():
    text = "a" * 152 + "€" + "a" * 10  # the euro sign would straddle the 153 boundary
    info = sms_info(text)
    assert info.length_units == 164
    assert info.segments == 2
    assert sms_info("a" * 152 + "€" + "a" * 152).segments == 3
