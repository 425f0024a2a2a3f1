"""Scoring: hand-counted examples for the paper's extra metrics, and agreement with alt-eval.

Every example is small enough that its alignment is unique, so the counts below are the only
correct ones, not just the ones the aligner happens to produce.
"""

from __future__ import annotations

import math

import pytest
from alt_eval import compute_metrics
from jiwer import AlignmentChunk

from alt_cli.bench.scoring import (
    HALLUCINATION_RUN,
    _hallucinated_insertions,
    nl_word_mask,
    pool_scores,
    score_by_language,
    score_corpus,
    score_lyrics,
    score_song,
)
from alt_cli.bench.shortform import strip_tags

# 6 reference words; hyp inserts "oh", turns "tiny" into "tony", drops "tonight", and writes
# "Me" for "me" (a case error, which WER ignores and WER_case counts).
EN_REF = "Hold me closer, tiny dancer\ntonight"
EN_HYP = "oh Hold Me closer tony dancer"

# NL words: ah, na, na (the tokenizer splits "Na-na" at the dash).
TAGGED = "Hello darling\n( <nl> ah </nl> )\n<nl> Na-na </nl> goodbye"
UNTAGGED = "Hello darling\n(ah)\nNa-na goodbye"


def assert_matches_alt_eval(metrics: dict, references: list, hypotheses: list, languages) -> None:
    """Our numbers must be alt-eval's own, bit for bit, for every key it reports."""
    official = compute_metrics(references, hypotheses, languages=languages)
    for key, value in official.items():
        ours = metrics[key]
        assert ours == value or (math.isnan(ours) and math.isnan(value)), (key, ours, value)


def test_hand_counted_rates():
    metrics = score_song(EN_REF, EN_HYP, "en").metrics
    assert (metrics["hits"], metrics["substitutions"], metrics["deletions"]) == (4, 1, 1)
    assert metrics["insertions"] == 1
    assert (metrics["ref_words"], metrics["hyp_words"]) == (6, 6)
    assert metrics["WER"] == pytest.approx(3 / 6)
    assert metrics["sub_rate"] == metrics["del_rate"] == metrics["ins_rate"] == pytest.approx(1 / 6)
    assert metrics["ER_case"] == pytest.approx(1 / 6)
    assert metrics["WER_case"] == pytest.approx(4 / 6)
    assert metrics["IR_hal"] == 0
    assert "DR_NL" not in metrics
    assert_matches_alt_eval(metrics, [EN_REF], [EN_HYP], "en")


@pytest.mark.parametrize("extra, expected", [(HALLUCINATION_RUN, 0), (HALLUCINATION_RUN + 1, 11)])
def test_insertion_run_longer_than_ten_counts(extra, expected):
    metrics = score_song("one two three", "one two three" + " la" * extra, "en").metrics
    assert metrics["insertions"] == extra
    assert metrics["hal_insertions"] == expected
    assert metrics["IR_hal"] == pytest.approx(expected / 3)


def test_insertions_split_by_a_hit_are_two_runs():
    hypothesis = "one" + " la" * 6 + " two" + " la" * 6 + " three"
    metrics = score_song("one two three", hypothesis, "en").metrics
    assert metrics["insertions"] == 12
    assert metrics["IR_hal"] == 0


def test_adjacent_insert_chunks_merge_into_one_run():
    chunks = [
        AlignmentChunk("equal", 0, 1, 0, 1),
        AlignmentChunk("insert", 1, 1, 1, 7),
        AlignmentChunk("insert", 1, 1, 7, 12),  # 6 + 5 = 11 consecutive insertions
        AlignmentChunk("substitute", 1, 2, 12, 13),
        AlignmentChunk("insert", 2, 2, 13, 24),  # 11 more, after a substitution
    ]
    assert _hallucinated_insertions(chunks) == 22
    assert _hallucinated_insertions(chunks[:2] + chunks[3:4]) == 0


def test_pooled_wer_is_not_the_mean_of_song_wers():
    refs = ["hello there", "one two three four five six seven eight"]
    hyps = ["hello", "one two three four five six seven eight"]
    songs, pooled = score_corpus(refs, hyps, "en")
    assert [s.metrics["WER"] for s in songs] == [0.5, 0.0]
    mean_of_songs = (0.5 + 0.0) / 2  # 0.25
    assert pooled.metrics["WER"] == pytest.approx(1 / 10)  # 1 deletion over 2 + 8 words
    assert pooled.metrics["WER"] != pytest.approx(mean_of_songs)
    assert pooled.metrics["ref_words"] == 10
    assert pooled.metrics["del_rate"] == pytest.approx(1 / 10)
    assert_matches_alt_eval(pooled.metrics, refs, hyps, "en")
    assert pool_scores(songs).metrics == pooled.metrics


def test_pooled_alt_eval_keys_equal_compute_metrics_on_all_songs():
    refs = [EN_REF, "Hello, world!\n(Oh) yeah\n\nBye.", UNTAGGED]
    hyps = [EN_HYP, "hello world\noh yeah bye", "hello darling na na goodbye" + " la" * 12]
    _, pooled = score_corpus(refs, hyps, "en")
    assert_matches_alt_eval(pooled.metrics, refs, hyps, "en")
    assert score_lyrics(refs, hyps, "en").keys() <= pooled.metrics.keys()


def test_dr_nl_one_of_three_non_lexical_words_deleted():
    assert nl_word_mask(TAGGED, UNTAGGED, "en") == [False, False, True, True, True, False]
    metrics = score_song(UNTAGGED, "hello darling\nna na goodbye", "en",
                         tagged_reference=TAGGED).metrics  # fmt: skip
    assert (metrics["deletions"], metrics["nl_words"], metrics["nl_deletions"]) == (1, 3, 1)
    assert metrics["DR_NL"] == pytest.approx(1 / 3)


def test_dr_nl_ignores_substituted_non_lexical_words():
    metrics = score_song(UNTAGGED, "hello darling\n(la)\nna na goodbye", "en",
                         tagged_reference=TAGGED).metrics  # fmt: skip
    assert (metrics["substitutions"], metrics["deletions"]) == (1, 0)
    assert metrics["DR_NL"] == 0


def test_dr_nl_pools_counts_and_needs_tags_on_every_song():
    tagged = score_song(UNTAGGED, "hello darling goodbye", "en", tagged_reference=TAGGED)
    assert tagged.metrics["DR_NL"] == 1  # all 3 NL words deleted
    other = score_song("ooh", "ooh", "en", tagged_reference="<nl> ooh </nl>")  # 1 NL word, hit
    assert pool_scores([tagged, other]).metrics["DR_NL"] == pytest.approx(3 / 4)
    untagged = score_song(UNTAGGED, "hello darling goodbye", "en")
    assert "DR_NL" not in pool_scores([tagged, untagged]).metrics


@pytest.mark.parametrize(
    "tagged, message",
    [
        ("Hello darling\n(ah)\n<nl> Na-na goodbye", "unclosed"),
        ("Hello darling </nl>\n(ah)\nNa-na goodbye", "without a matching"),
        ("Hello <nl> dear </nl> darling\n(ah)\nNa-na goodbye", "does not match"),
    ],
)
def test_bad_tagged_reference_is_a_value_error(tagged, message):
    with pytest.raises(ValueError, match=message):
        score_song(UNTAGGED, "x", "en", tagged_reference=tagged)


def test_stripped_tags_score_as_the_untagged_text():
    metrics = score_song(UNTAGGED, strip_tags(TAGGED), "en").metrics
    assert metrics["WER"] == 0.0 and metrics["WER_case"] == 0.0
    assert metrics["F1_pare"] == 1.0 and metrics["F1_line"] == 1.0


def test_french_tokenisation_and_per_language_pooling():
    refs = ["J'vois pas l'intérêt", EN_REF, "hello there"]
    hyps = ["Je vois pas l'intérêt", EN_HYP, "hello"]
    langs = ["fr", "en", "en"]
    french = score_song(refs[0], hyps[0], "fr").metrics
    # j' vois pas l' intérêt: "je" is not the elided "j'", 1 substitution out of 5.
    assert (french["ref_words"], french["substitutions"]) == (5, 1)
    assert french["WER"] == pytest.approx(1 / 5)
    assert_matches_alt_eval(french, refs[:1], hyps[:1], "fr")

    by_language = score_by_language(refs, hyps, langs)
    assert set(by_language) == {"fr", "en"}
    assert by_language["fr"].metrics == french
    english = by_language["en"].metrics
    assert english["WER"] == pytest.approx((3 + 1) / (6 + 2))
    assert_matches_alt_eval(english, refs[1:], hyps[1:], "en")


def test_html_error_view():
    score = score_song(EN_REF, EN_HYP, "en", html=True)
    assert score.errors_html and "<span" in score.errors_html
    assert score_song(EN_REF, EN_HYP, "en").errors_html is None


def test_mismatched_inputs_are_value_errors():
    with pytest.raises(ValueError):
        score_corpus(["a", "b"], ["a"], "en")
    with pytest.raises(ValueError):
        score_corpus(["a"], ["a"], ["en", "fr"])
    with pytest.raises(ValueError):
        score_corpus(["a"], ["a"], "en", tagged_references=[])


def test_words_in_instrumental_passages():
    from alt_cli.bench.instrumental import instrumental_seconds, instrumental_words
    from alt_cli.schema import LyricLine, Word

    sung = [(10.0, 14.0), (15.0, 18.0), (40.0, 44.0)]
    # Instrumental: 0-9, 19-39, 45-60 -> 9 + 20 + 15 s.
    assert instrumental_seconds(sung, 60.0) == pytest.approx(44.0)
    assert instrumental_seconds([], 30.0) == 30.0
    lines = [
        LyricLine(2.0, 3.0, "Thanks for watching", 0,
                  (Word(" Thanks", 2.0, 2.3), Word(" for", 2.3, 2.5), Word(" watching", 2.5, 3.0))),
        LyricLine(9.2, 10.5, "la la", 0, (Word(" la", 9.2, 9.5), Word(" la", 10.0, 10.5))),
        LyricLine(25.0, 27.0, "no words timed here", 0),
        LyricLine(41.0, 42.0, "sung", 0, (Word(" sung", 41.0, 42.0),)),
    ]
    assert instrumental_words(lines, sung) == 3 + 0 + 4 + 0


@pytest.mark.parametrize(("shift", "drop", "mae", "close"), [
    (0.0, None, 0.0, 1.0),  # perfect
    (0.5, None, 0.5, 0.0),  # every word half a second late
    (0.0, 2, 0.0, 1.0),  # a word missing: not paired, the rest perfect
])
def test_onset_metrics_on_hand_made_timings(shift, drop, mae, close):
    from alt_cli.bench.timing import TimedWord, onset_errors, timing_metrics
    from alt_cli.schema import LyricLine, Word

    reference = [TimedWord("here", 1.0, True), TimedWord("we", 1.5, False),
                 TimedWord("go", 2.0, False), TimedWord("hey", 5.0, True)]
    words = [Word(" Here", 1.0 + shift, 1.4), Word(" we", 1.5 + shift, 1.9),
             Word(" go!", 2.0 + shift, 2.5), Word(" hey", 5.0 + shift, 5.5)]
    if drop is not None:
        words.pop(drop)
    hypothesis = [LyricLine(words[0].start, words[-1].end, "x", 0, tuple(words))]
    record = onset_errors(hypothesis, reference)
    metrics = timing_metrics([record])
    assert metrics["onset_mae"] == pytest.approx(mae)
    assert metrics["onset_0.3"] == pytest.approx(close)
    assert metrics["line_mae"] == pytest.approx(mae)
    assert metrics["paired"] == pytest.approx((4 - (drop is not None)) / 4)
