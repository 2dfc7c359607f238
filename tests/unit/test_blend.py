"""The hybrid fusion pinned on fixed score lists."""

from __future__ import annotations

from engram.memory.ranking import blend, lead_confidence


def keys(found: list[tuple[int, float]]) -> list[int]:
    return [key for key, _ in found]


def test_a_row_both_sides_rank_well_comes_first() -> None:
    keyword = [(1, 9.0), (2, 8.5), (3, 2.0)]
    vector = [(3, 0.80), (2, 0.78), (4, 0.50), (5, 0.30)]

    assert keys(blend(keyword, vector, 3)) == [2, 3, 1]


def test_a_clear_keyword_hit_the_vector_side_misses_stays_in_the_top_three() -> None:
    keyword = [(7, 12.0), (1, 3.0), (2, 2.5)]
    vector = [(1, 0.62), (2, 0.61), (3, 0.60), (4, 0.59), (5, 0.58), (6, 0.20)]

    found = keys(blend(keyword, vector, 5))

    assert found.index(7) < 3


def test_one_side_alone_keeps_its_order() -> None:
    assert blend([(3, 4.0), (1, 2.0)], [], 5, keyword_weight=0.5) == [(3, 0.5), (1, 0.25)]
    assert keys(blend([], [(2, 0.9), (1, 0.5)], 5)) == [2, 1]


def test_newer_rows_win_among_alike_matches() -> None:
    keyword = [(1, 5.0), (9, 5.0)]
    vector = [(1, 0.7), (9, 0.7), (4, 0.1)]

    assert keys(blend(keyword, vector, 2, newer_is_larger=True)) == [9, 1]


def test_a_keyword_plateau_does_not_reorder_close_meaning_matches() -> None:
    # Every keyword hit shares the same common word; the meaning side has row 1 first,
    # 0.03 of similarity over row 2, which holds that word and row 1 does not. (Closer
    # than that the two sides are both near ties, and a row both of them rank wins.)
    keyword = [(2, 3.26), (5, 3.25), (6, 3.25)]
    vector = [(1, 0.329), (2, 0.300), (3, 0.290), (4, 0.280)]

    assert keys(blend(keyword, vector, 3, keyword_weight=0.4))[0] == 2
    assert keys(blend(keyword, vector, 3, keyword_weight=0.4, by_lead=True))[0] == 1


def test_a_clear_keyword_lead_keeps_its_whole_weight() -> None:
    keyword = [(2, 9.6), (3, 5.9), (4, 5.8)]
    vector = [(3, 0.53), (4, 0.49), (2, 0.48), (5, 0.45)]

    plain = blend(keyword, vector, 3, keyword_weight=0.4)
    led = blend(keyword, vector, 3, keyword_weight=0.4, by_lead=True)

    assert led == plain
    assert keys(led)[0] == 2


def test_lead_confidence_rises_from_a_tie_to_a_clear_lead() -> None:
    assert lead_confidence([(1, 5.0), (2, 5.0)]) == 0.0
    assert 0.0 < lead_confidence([(1, 5.1), (2, 5.0)]) < 1.0
    assert lead_confidence([(1, 9.0), (2, 5.0)]) == 1.0
    assert lead_confidence([(1, 3.0)]) == 1.0


def test_a_flat_meaning_list_does_not_outvote_a_clear_keyword_hit() -> None:
    # Fifty turns on one topic, all about as near the question; the keyword side finds
    # the one turn with the question's rare words, which the vector side never lists.
    vector = [(key, 0.55 - key * 0.001) for key in range(1, 51)]
    keyword = [(99, 12.0), (3, 6.0), (4, 5.9)]

    assert keys(blend(keyword, vector, 5, keyword_weight=0.5, by_lead=True))[0] == 99


def test_a_clear_meaning_match_still_outweighs_a_keyword_plateau() -> None:
    vector = [(1, 0.80), *[(key, 0.45 - key * 0.001) for key in range(2, 51)]]
    keyword = [(7, 5.0), (8, 5.0), (1, 2.0)]

    assert keys(blend(keyword, vector, 5, keyword_weight=0.5, by_lead=True))[0] == 1
