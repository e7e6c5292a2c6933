"""Window arithmetic against hand-written tables and the every-token-once property."""

import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from compressiq.core.windows import Window, exact_calls, paper_calls, paper_windows, rolling_windows, tokens_for_chars

W = Window


@pytest.mark.parametrize(
    ("n", "block", "stride", "expected"),
    [
        (0, 4, 2, []),
        (1, 4, 2, [W(0, 1, 0)]),
        (4, 4, 2, [W(0, 4, 0)]),
        (5, 4, 2, [W(0, 4, 0), W(2, 5, 4)]),
        (10, 4, 2, [W(0, 4, 0), W(2, 6, 4), W(4, 8, 6), W(6, 10, 8)]),
        (10, 4, 4, [W(0, 4, 0), W(4, 8, 4), W(8, 10, 8)]),
        (7, 3, 1, [W(0, 3, 0), W(1, 4, 3), W(2, 5, 4), W(3, 6, 5), W(4, 7, 6)]),
        (6, 1900, 512, [W(0, 6, 0)]),
        (2000, 1900, 512, [W(0, 1900, 0), W(512, 2000, 1900)]),
    ],
    ids=["empty", "one", "fits", "tail-of-1", "overlap", "disjoint", "stride-1", "short-doc", "paper-defaults"],
)
def test_rolling_windows_table(n: int, block: int, stride: int, expected: list[Window]) -> None:
    assert rolling_windows(n, block, stride) == expected


@pytest.mark.parametrize(
    ("n", "block", "stride", "expected"),
    [
        (4, 4, 3, []),  # shorter than one window of block + 1: nothing is scored
        (5, 4, 3, [W(0, 5, 1)]),
        (12, 4, 3, [W(0, 5, 1), W(3, 8, 5), W(6, 11, 8)]),  # token 11, the tail, is never scored
        (13, 4, 4, [W(0, 5, 1), W(4, 9, 5), W(8, 13, 9)]),
    ],
    ids=["too-short", "one-window", "unscored-tail", "disjoint"],
)
def test_paper_windows_table(n: int, block: int, stride: int, expected: list[Window]) -> None:
    assert paper_windows(n, block, stride) == expected


@given(st.integers(0, 400), st.integers(2, 40), st.data())
def test_every_token_scored_exactly_once(n: int, block: int, data: st.DataObject) -> None:
    stride = data.draw(st.integers(1, block))
    windows = rolling_windows(n, block, stride)
    scored = [i for w in windows for i in range(w.scored_from, w.end)]
    assert scored == list(range(n))
    for w in windows:
        assert w.start <= w.scored_from < w.end and w.end - w.start <= block
    assert all(b.start == a.start + stride for a, b in itertools.pairwise(windows))


@given(st.integers(0, 400), st.integers(2, 40), st.data())
def test_paper_windows_score_a_prefix_once(n: int, block: int, data: st.DataObject) -> None:
    stride = data.draw(st.integers(1, block))
    windows = paper_windows(n, block, stride)
    scored = [i for w in windows for i in range(w.scored_from, w.end)]
    assert scored == list(range(1, windows[-1].end)) if windows else scored == []
    assert all(w.end - w.start == block + 1 for w in windows)
    if windows:  # the unscored tail is shorter than one stride
        assert n - windows[-1].end < stride


def test_exact_calls_add_prefix_and_map_to_stream() -> None:
    docs = [[10, 11, 12, 13, 14], [], [20, 21]]
    calls = list(exact_calls(docs, prefix=1, block=3, stride=2))
    assert [(c.tokens, c.scored, c.first) for c in calls] == [
        ([1, 10, 11, 12], 3, 0),
        ([1, 12, 13, 14], 2, 3),
        ([1, 20, 21], 2, 5),
    ]
    later = list(exact_calls(docs, prefix=1, block=3, stride=2, every_window=False))
    assert later[1].tokens == [12, 13, 14] and later[1].scored == 2


def test_paper_calls_over_stream() -> None:
    calls = list(paper_calls(list(range(12)), block=4, stride=3))
    assert [(c.tokens, c.scored, c.first) for c in calls] == [
        ([0, 1, 2, 3, 4], 4, 1),
        ([3, 4, 5, 6, 7], 3, 5),
        ([6, 7, 8, 9, 10], 3, 8),
    ]


@pytest.mark.parametrize(("block", "stride"), [(1, 1), (4, 5), (4, 0)], ids=["block<2", "stride>block", "stride0"])
def test_bad_settings_rejected(block: int, stride: int) -> None:
    with pytest.raises(ValueError, match="block|stride"):
        rolling_windows(10, block, stride)


def test_exact_calls_need_a_prefix_and_overlap_without_one() -> None:
    with pytest.raises(ValueError, match="prefix"):
        list(exact_calls([[1, 2]], None, 4, 2))
    with pytest.raises(ValueError, match="stride < block"):
        list(exact_calls([[1, 2]], 0, 4, 4, every_window=False))


def test_tokens_for_chars() -> None:
    assert tokens_for_chars(7600, 4.0) == 1900
    assert tokens_for_chars(7600, 3.2) == 2375
    assert tokens_for_chars(3, 10.0) == 1
