"""Scoring against reference lyrics with the official Jam-ALT metrics (the `alt-eval` package).

alt-eval implements the benchmark's own normalisation and tokenisation (case, punctuation,
parentheses, line and section breaks), so our numbers are comparable with published ones. On top
of it we add the error breakdown used by Syed et al. (2025), "Exploiting Music Source Separation
for Automatic Lyrics Transcription with Whisper": substitution/deletion/insertion rates, the
hallucination insertion rate IR_hal and the non-lexical deletion rate DR_NL.

Everything is derived from *edit counts* rather than from rates, because corpus-level numbers in
the benchmark and in the paper pool the counts over all songs (a long song weighs more than a
short one); the mean of per-song WERs is a different, non-comparable quantity. Each `SongScore`
therefore carries its raw counts, and `pool_scores` sums them and recomputes every rate, which
reproduces `alt_eval.compute_metrics` on the whole list of songs exactly, except for section
breaks where a reference has none (below).

Decisions (the paper leaves these open):

* An insertion "run" is a maximal sequence of consecutive `insert` chunks of the word-level
  alignment (jiwer never emits two adjacent ones, but if it did they would be one run). A
  substitution or hit ends the run. Runs longer than `HALLUCINATION_RUN` words count, whole,
  towards IR_hal.
* DR_NL counts non-lexical reference words that are *deleted* only (inside `delete` chunks of the
  word-level alignment), as the paper does; a substituted vocable was at least heard as
  something, which is a different failure than dropping it.
* A dataset whose convention has no sections (UltraStar's karaoke lines: ``sections=False``)
  says nothing about them: every section break of the hypothesis would be a false positive
  and drag the pooled F1 towards 0.  Such a song's section-break counts are zeroed, so its own
  P/R/F1_sect are NaN and it stays out of every pool (a pool of such songs only has NaN section
  metrics), and its hypothesis's section tokens are dropped before the alignment (a blank line
  is a line break in that convention; alt-eval aligns every token, and a section token moves
  which line breaks pair).  So the line-break counts of such songs differ from alt-eval's too;
  for every other dataset (the default) every metric is alt-eval's as is.
"""

from __future__ import annotations

import functools
import math
import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import iso639
import jiwer
from alt_eval import compute_metrics
from alt_eval.metrics import IDENTITY_TRANSFORM, process_alignments
from alt_eval.tokenizer import LINE, PAREN, PUNCT, SECT, LyricsTokenizer, Token, tokens_as_words

HALLUCINATION_RUN = 10
"""Insertion runs of MORE than this many consecutive words are counted as hallucinations."""

# alt-eval's non-word token classes, in its key order; metric keys use the first 4 letters.
OTHER_TAGS = (PUNCT, PAREN, LINE, SECT)

NL_OPEN_RE = re.compile(r"<\s*nl\s*>", re.IGNORECASE)
NL_CLOSE_RE = re.compile(r"<\s*/\s*nl\s*>", re.IGNORECASE)
# Plain-letter words the tokenizer keeps whole in every language, so that tags can ride along
# through tokenisation and tell us which word tokens they enclose.
NL_OPEN_MARK = "qqnlopenqq"
NL_CLOSE_MARK = "qqnlcloseqq"

# Count keys stored in SongScore.counts (summed when pooling).
HITS, SUBS, DELS, INS = "H", "S", "D", "I"
EDIT_OPS = (HITS, SUBS, DELS, INS)  # attribute names of alt-eval's EditOpCounts
REF_WORDS = "ref_words"
HYP_WORDS = "hyp_words"
CASE_ERRORS = "case_errors"
HAL_INSERTIONS = "hal_insertions"
NL_WORDS = "nl_words"
NL_DELETIONS = "nl_deletions"
NL_KEYS = (NL_WORDS, NL_DELETIONS)

NAN = float("nan")


@dataclass(frozen=True)
class SongScore:
    """Metrics of one song, or of a pooled set of songs.

    `metrics` holds every key of `alt_eval.compute_metrics` plus our extras; `counts` holds the
    raw edit counts they come from, kept so that scores can be pooled exactly later.
    """

    metrics: dict[str, float]
    errors_html: str | None = None
    counts: dict[str, int] = field(default_factory=dict, repr=False)


@functools.lru_cache(maxsize=1)
def _tokenizer() -> LyricsTokenizer:
    """One shared tokenizer: building it compiles large regexes and caches Moses per language."""
    return LyricsTokenizer()


def language_code(language: str) -> str:
    """ISO 639-1 code, normalised the way alt-eval does (so 'English' and 'en' agree)."""
    return iso639.Language.match(language).part1


def _align(reference: list[str], hypothesis: list[str]) -> jiwer.WordOutput:
    """jiwer alignment with no transforms: the input is already alt-eval-tokenised."""
    return jiwer.process_words(
        [reference],
        [hypothesis],
        reference_transform=IDENTITY_TRANSFORM,
        hypothesis_transform=IDENTITY_TRANSFORM,
    )


def nl_word_mask(tagged_reference: str, reference: str, language: str) -> list[bool]:
    """For each alt-eval word token of `reference`, whether it is inside `<nl>...</nl>`.

    The tags are turned into marker words so that the very same tokenizer decides the word
    boundaries; the result is only trusted if, markers dropped, the words equal those of the
    untagged reference (otherwise the tags would label the wrong words).
    """
    lang = language_code(language)
    if NL_OPEN_MARK in reference.lower() or NL_CLOSE_MARK in reference.lower():
        raise ValueError("reference contains a reserved <nl> marker word")
    marked = NL_OPEN_RE.sub(f" {NL_OPEN_MARK} ", tagged_reference)
    marked = NL_CLOSE_RE.sub(f" {NL_CLOSE_MARK} ", marked)
    words: list[str] = []
    mask: list[bool] = []
    inside = False
    for token in tokens_as_words(_tokenizer()(marked, language=lang)):
        if token.text == NL_OPEN_MARK:
            if inside:
                raise ValueError("nested <nl> tag in tagged reference")
            inside = True
        elif token.text == NL_CLOSE_MARK:
            if not inside:
                raise ValueError("</nl> without a matching <nl> in tagged reference")
            inside = False
        else:
            words.append(token.text)
            mask.append(inside)
    if inside:
        raise ValueError("unclosed <nl> tag in tagged reference")
    expected = [t.text for t in tokens_as_words(_tokenizer()(reference, language=lang))]
    if words != expected:
        raise ValueError("tagged reference does not match the reference's words once untagged")
    return mask


def _hallucinated_insertions(alignment: Sequence[jiwer.AlignmentChunk]) -> int:
    """Inserted words that sit in runs of more than HALLUCINATION_RUN consecutive insertions.

    Adjacent insert chunks are merged into one run; any other chunk type ends the run.
    """
    total = run = 0
    for chunk in [*alignment, None]:
        if chunk is not None and chunk.type == "insert":
            run += chunk.hyp_end_idx - chunk.hyp_start_idx
            continue
        if run > HALLUCINATION_RUN:
            total += run
        run = 0
    return total


def _nl_deletions(alignment: Sequence[jiwer.AlignmentChunk], mask: Sequence[bool]) -> int:
    """Non-lexical reference words inside `delete` chunks (substitutions deliberately ignored)."""
    return sum(
        sum(mask[chunk.ref_start_idx : chunk.ref_end_idx])
        for chunk in alignment
        if chunk.type == "delete"
    )


def _song_counts(
    ref_tokens: list[Token],
    hyp_tokens: list[Token],
    nl_mask: list[bool] | None,
    html: bool,
    sections: bool = True,
) -> tuple[dict[str, int], str | None]:
    """All edit counts of one song, computed exactly as alt-eval's compute_metrics does,
    except that section breaks count only where the reference has one (see the module doc)."""
    # Word level: alignment on lower-cased words; case errors are counted on the hits.
    ref_words = tokens_as_words(ref_tokens)
    hyp_words = tokens_as_words(hyp_tokens)
    words = _align([t.text.lower() for t in ref_words], [t.text.lower() for t in hyp_words])
    alignment = words.alignments[0]
    _, error_counts, _ = process_alignments([ref_words], [hyp_words], [alignment])
    counts = {
        HITS: words.hits,
        SUBS: words.substitutions,
        DELS: words.deletions,
        INS: words.insertions,
        REF_WORDS: len(ref_words),
        HYP_WORDS: len(hyp_words),
        CASE_ERRORS: error_counts["case"],
        HAL_INSERTIONS: _hallucinated_insertions(alignment),
    }
    if nl_mask is not None:
        counts[NL_WORDS] = sum(nl_mask)
        counts[NL_DELETIONS] = _nl_deletions(alignment, nl_mask)

    # Other tokens (punctuation, parentheses, line/section breaks): alignment on all tokens.
    others = _align([t.text.lower() for t in ref_tokens], [t.text.lower() for t in hyp_tokens])
    tag_counts, _, htmls = process_alignments(
        [ref_tokens], [hyp_tokens], others.alignments, visualize_errors=html
    )
    for tag in OTHER_TAGS:
        counted = tag != SECT or sections
        for op in EDIT_OPS:
            counts[f"{op}_{tag[:4]}"] = getattr(tag_counts[tag], op) if counted else 0
    return counts, (htmls[0] if htmls else None)


def _ratio(numerator: int, denominator: int) -> float:
    """A rate that is NaN, not an exception, when there is nothing to divide by."""
    return numerator / denominator if denominator else NAN


def metrics_from_counts(counts: Mapping[str, int]) -> dict[str, float]:
    """Every metric from edit counts, with alt-eval's and jiwer's formulas verbatim.

    The same expressions as theirs (not merely equivalent ones) keep our floats bit-identical
    to `alt_eval.compute_metrics`.
    """
    h, s, d, i = (counts[op] for op in EDIT_OPS)
    n_ref, n_hyp = counts[REF_WORDS], counts[HYP_WORDS]
    if n_ref == 0:  # jiwer's edge case for an empty reference
        wer = float(i)
        mer, wip = (0.0, 1.0) if n_hyp == 0 else (1.0, 0.0)
    else:
        wer = float(s + d + i) / float(h + s + d)
        mer = float(s + d + i) / float(h + s + d + i)
        wip = (float(h) / n_ref) * (float(h) / n_hyp) if n_hyp >= 1 else 0.0
    er_case = _ratio(counts[CASE_ERRORS], n_ref)
    metrics: dict[str, Any] = {
        "WER": wer,
        "MER": mer,
        "WIL": 1 - wip,
        "hits": h,
        "substitutions": s,
        "deletions": d,
        "insertions": i,
        "ER_case": er_case,
        "WER_case": wer + er_case,
    }
    for tag in OTHER_TAGS:
        tg = tag[:4]
        th, ts, td, ti = (counts[f"{op}_{tg}"] for op in EDIT_OPS)
        p = th / (th + ts + ti) if th + ts + ti else NAN
        r = th / (th + ts + td) if th + ts + td else NAN
        metrics[f"P_{tg}"] = p
        metrics[f"R_{tg}"] = r
        if math.isnan(p) or math.isnan(r):
            metrics[f"F1_{tg}"] = NAN
        else:
            metrics[f"F1_{tg}"] = 0.0 if p + r == 0 else 2 * p * r / (p + r)
    metrics.update(
        ref_words=n_ref,
        hyp_words=n_hyp,
        sub_rate=_ratio(s, n_ref),
        del_rate=_ratio(d, n_ref),
        ins_rate=_ratio(i, n_ref),
        hal_insertions=counts[HAL_INSERTIONS],
        IR_hal=_ratio(counts[HAL_INSERTIONS], n_ref),
    )
    if NL_WORDS in counts:
        metrics.update(
            nl_words=counts[NL_WORDS],
            nl_deletions=counts[NL_DELETIONS],
            DR_NL=_ratio(counts[NL_DELETIONS], counts[NL_WORDS]),
        )
    return metrics


def score_song(
    reference: str,
    hypothesis: str,
    language: str,
    *,
    tagged_reference: str | None = None,
    html: bool = False,
    sections: bool = True,
) -> SongScore:
    """Score one song; DR_NL only when a `<nl>`-tagged copy of the reference is given.

    With `html=True` the song's alt-eval error visualisation (token spans) is attached.
    ``sections=False``: the reference's convention has no sections (UltraStar's karaoke
    lines), so section breaks are not scored and the hypothesis's blank lines are line breaks.
    """
    lang = language_code(language)
    tokenizer = _tokenizer()
    ref_tokens = tokenizer(reference, language=lang)
    hyp_tokens = tokenizer(hypothesis, language=lang)
    if not sections:
        # A convention without sections: a blank line is a line break there, and its section
        # token would only disturb the alignment of the line breaks (alt-eval aligns them all).
        hyp_tokens = [token for token in hyp_tokens if SECT not in token.tags]
    mask = None if tagged_reference is None else nl_word_mask(tagged_reference, reference, lang)
    counts, errors_html = _song_counts(ref_tokens, hyp_tokens, mask, html, sections)
    return SongScore(metrics_from_counts(counts), errors_html, counts)


def pool_scores(scores: Iterable[SongScore]) -> SongScore:
    """Corpus-level score: sum the edit counts over songs, then recompute every rate.

    This is the benchmark's (and the paper's) pooling, not a mean of per-song rates. DR_NL is
    reported only if every song had a tagged reference; pooling it over a subset would silently
    describe different songs than the other metrics.
    """
    scores = list(scores)
    if not scores:
        raise ValueError("no scores to pool")
    total: Counter[str] = Counter()
    for score in scores:
        total.update(score.counts)
    if not all(NL_WORDS in score.counts for score in scores):
        for key in NL_KEYS:
            total.pop(key, None)
    counts = dict(total)
    return SongScore(metrics_from_counts(counts), None, counts)


def _check_lengths(
    references: Sequence[str],
    hypotheses: Sequence[str],
    languages: Sequence[str] | str,
    tagged_references: Sequence[str] | None,
) -> list[str]:
    """Validate parallel inputs; returns one language per song."""
    if len(references) != len(hypotheses):
        raise ValueError("need one hypothesis per reference")
    langs = [languages] * len(references) if isinstance(languages, str) else list(languages)
    if len(langs) != len(references):
        raise ValueError("need one language per reference")
    if tagged_references is not None and len(tagged_references) != len(references):
        raise ValueError("need one tagged reference per reference")
    if not references:
        raise ValueError("no songs to score")
    return langs


def score_corpus(
    references: Sequence[str],
    hypotheses: Sequence[str],
    languages: Sequence[str] | str,
    *,
    tagged_references: Sequence[str] | None = None,
    html: bool = False,
    sections: Sequence[bool] | bool = True,
) -> tuple[list[SongScore], SongScore]:
    """Per-song scores and their pooled (corpus-level) score (``sections``: per song, or for
    all, whether its reference's convention has sections; see :func:`score_song`)."""
    langs = _check_lengths(references, hypotheses, languages, tagged_references)
    tagged = list(tagged_references) if tagged_references is not None else [None] * len(langs)
    kinds = [sections] * len(langs) if isinstance(sections, bool) else list(sections)
    songs = [
        score_song(ref, hyp, lang, tagged_reference=tag, html=html, sections=kind)
        for ref, hyp, lang, tag, kind in zip(references, hypotheses, langs, tagged, kinds,
                                             strict=True)
    ]
    return songs, pool_scores(songs)


def pool_by_language(scores: Sequence[SongScore], languages: Sequence[str]) -> dict[str, SongScore]:
    """Pooled score per language, keyed by the language strings as given (so callers can match
    them against their own song lists)."""
    if len(scores) != len(languages):
        raise ValueError("need one language per score")
    groups: dict[str, list[SongScore]] = defaultdict(list)
    for score, language in zip(scores, languages, strict=True):
        groups[language].append(score)
    return {language: pool_scores(members) for language, members in groups.items()}


def score_by_language(
    references: Sequence[str],
    hypotheses: Sequence[str],
    languages: Sequence[str] | str,
    *,
    tagged_references: Sequence[str] | None = None,
    sections: Sequence[bool] | bool = True,
) -> dict[str, SongScore]:
    """Pooled score per language (Jam-ALT reports en, es, de, fr separately)."""
    langs = _check_lengths(references, hypotheses, languages, tagged_references)
    songs, _ = score_corpus(references, hypotheses, langs, tagged_references=tagged_references,
                            sections=sections)
    return pool_by_language(songs, langs)


def score_lyrics(
    references: Sequence[str], hypotheses: Sequence[str], languages: Sequence[str] | str
) -> dict[str, Any]:
    """Corpus-level Jam-ALT metrics (WER, case-sensitive WER, P/R/F1 of punctuation, ...).

    Straight from `alt_eval.compute_metrics`, the reference implementation; edit counts are
    pooled over all songs, as the benchmark and the paper do (and section breaks counted on
    songs whose reference has none, unlike `score_corpus`).
    """
    if len(references) != len(hypotheses):
        raise ValueError("need one hypothesis per reference")
    langs = languages if isinstance(languages, str) else list(languages)
    return compute_metrics(list(references), list(hypotheses), languages=langs)
