import math

from compressiq.core.totals import Totals, document_totals, total


def test_bpc_is_sum_then_divide() -> None:
    a = Totals(nats=20 * math.log(2), characters=10, bytes=10, tokens=3, documents=1)
    b = Totals(nats=40 * math.log(2), characters=30, bytes=31, tokens=9, documents=1)
    t = total([a, b])
    assert math.isclose(t.bpc, 60 / 40)  # not the mean of 2.0 and 1.333
    assert math.isclose(t.bits_per_byte, 60 / 41)
    assert t.documents == 2 and t.tokens == 12


def test_document_totals_count_code_points_and_utf8_bytes() -> None:
    t = document_totals("naïve 漢字", nats=1.0, tokens=4)
    assert (t.characters, t.bytes) == (8, 13)


def test_empty_totals_are_nan_not_errors() -> None:
    assert math.isnan(Totals().bpc) and math.isnan(Totals().bits_per_byte)
    assert total([Totals(), document_totals("", 0.0, 0)]).documents == 1
