"""A learned line-break model against alt's layout rules, judged by the layout protocol.

    python benchmarks/break_model.py [--shared ../shared] [--inputs results/layout-protocol]

The issue's alternative to hand-set thresholds: one logistic regression over every gap between
two words, fit on jam-alt-text's 49 songs (human word times, Jam-ALT's lines), with features a
recogniser's output has on any song: the pause (the gap between the words; on audio the longer
of that gap and the separated vocals' breath), whether it is the longest pause nearby, how long
the word before and after is held against the song's median, and whether either is a pickup
word (an article, preposition, conjunction: :data:`alt_cli.layout.pickups.PICKUP_WORDS`).
A line breaks where the model's probability is at least the threshold that scored best in the
cross-validation on jam-alt-text (song folds; so its cross-validated figure is slightly
optimistic), never leaving a line under two words; rests stay
breaks, and capitals and sections are alt's steps.  Scored on jam-alt-text by 7-fold
cross-validation over songs, and on the two audio dev sets (fit on all of jam-alt-text),
against alt's default rules on the same inputs.  The audio sets need the layout inputs that
``benchmarks/layout_protocol.py`` keeps (run it first).

Needs scikit-learn (a dependency of librosa).
"""

from __future__ import annotations

import argparse
import pickle
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from sklearn.linear_model import LogisticRegression

from alt_cli.bench.datasets import DATASETS, load_dataset
from alt_cli.bench.layout_task import as_words, song_reference_words, word_cues
from alt_cli.bench.scoring import score_corpus
from alt_cli.formats import render_txt
from alt_cli.layout import STEPS, LayoutCues, Step, lay_out
from alt_cli.layout.lines import words_line, written_words
from alt_cli.layout.pickups import PICKUP_WORDS
from alt_cli.options import LayoutOptions
from alt_cli.schema import LyricLine, Word

FOLDS = 7
THRESHOLDS = (0.3, 0.35, 0.4, 0.45, 0.5)
MIN_WORDS = 2
KEPT_STEPS = ("script", "rests", "capitals", "sections")  # alt's steps the model runs between
_LETTERS = re.compile(r"[^\w']+")


@dataclass(frozen=True)
class Token:
    text: str  # lower case, letters only
    start: float
    end: float


def features(tokens: list[Token], language: str | None, pauses: list[float]) -> np.ndarray:
    """One row per gap between consecutive tokens (see the module text)."""
    vocabulary = PICKUP_WORDS.get((language or "").split("-")[0], frozenset())
    held = np.array([max(0.01, t.end - t.start) for t in tokens])
    typical_hold = float(np.median(held))
    pause = np.array(pauses)
    typical_pause = float(np.median(pause)) if len(pause) else 0.1
    rows = []
    for i, gap in enumerate(pause):
        rows.append([
            np.log(gap + 0.05), gap >= 0.3, gap >= 1.0,
            np.log(held[i] / typical_hold), np.log(held[i + 1] / typical_hold),
            tokens[i].text in vocabulary, tokens[i + 1].text in vocabulary,
            np.log((gap + 0.05) / (typical_pause + 0.05)),
            gap >= pause[max(0, i - 3):i + 4].max(), gap >= pause[max(0, i - 6):i + 7].max(),
        ])
    return np.array(rows, dtype=float).reshape(len(pause), 10)


def text_song(song) -> tuple[list[Token], np.ndarray]:
    """A jam-alt-text song's tokens and its labels (1: a reference line starts after the gap)."""
    words = song_reference_words(song)
    tokens = [Token(w.text, w.start, w.end) for w in words]
    labels = np.array([words[i + 1].line_start for i in range(len(words) - 1)], dtype=int)
    return tokens, labels


def gap_pauses(tokens: list[Token]) -> list[float]:
    return [max(0.0, b.start - a.end) for a, b in zip(tokens, tokens[1:], strict=False)]


def model_step(model: LogisticRegression, threshold: float, audio: bool):
    """A layout step: split each line where the model says a line ends (``audio``: the
    pause is also the separated vocals' breath, not only the gap between word times)."""
    def step(lines: list[LyricLine], cues: LayoutCues) -> list[LyricLine]:
        result = []
        for line in lines:
            pieces = written_words(line.words) if line.words else []
            if len(pieces) < 2 * MIN_WORDS:
                result.append(line)
                continue
            tokens = [Token(_LETTERS.sub("", "".join(p.text for p in w).lower()), w[0].start,
                            w[-1].end) for w in pieces]
            pauses = gap_pauses(tokens)
            if audio and cues.voice is not None:  # the vocals' own breath
                level = float(np.median(cues.voice.frames(line.start, line.end)))
                pauses = [max(p, cues.voice.breath(a[-1], b[0], level)) for p, a, b in
                          zip(pauses, pieces, pieces[1:], strict=False)]
            probability = model.predict_proba(features(tokens, cues.language, pauses))[:, 1]
            groups: list[list[tuple[Word, ...]]] = [[pieces[0]]]
            for i, p in enumerate(probability):
                if (p >= threshold and len(groups[-1]) >= MIN_WORDS
                        and len(pieces) - i - 1 >= MIN_WORDS):
                    groups.append([])
                groups[-1].append(pieces[i + 1])
            result.extend(words_line([w for word in group for w in word], line.section)
                          for group in groups)
        return result
    return step


def model_steps(model: LogisticRegression, threshold: float, audio: bool = False
                ) -> list[Step]:
    kept = [step for step in STEPS if step.name in KEPT_STEPS]
    at = [step.name for step in kept].index("rests") + 1
    return [*kept[:at], Step("break model", None, model_step(model, threshold, audio)),
            *kept[at:]]


def fit(songs: list[tuple[list[Token], np.ndarray, str]]) -> LogisticRegression:
    x = np.vstack([features(t, lang, gap_pauses(t)) for t, _, lang in songs])
    y = np.concatenate([labels for _, labels, _ in songs])
    return LogisticRegression(max_iter=2000).fit(x, y)


def pooled(references, hypotheses, languages, sections: bool = True
           ) -> tuple[float, float, list[float]]:
    per_song, scored = score_corpus(references, hypotheses, languages, sections=sections)
    metrics = scored.metrics
    return (metrics["F1_line"], 100 * (metrics["WER_case"] - metrics["WER"]),
            [s.metrics["F1_line"] for s in per_song])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--shared", type=Path, default=Path("../shared"))
    parser.add_argument("--inputs", type=Path, default=Path("results/layout-protocol"))
    args = parser.parse_args()
    selection = load_dataset("jam-alt", args.shared / "jam-alt-text", task="layout")
    songs = selection.songs
    data = [(*text_song(song), song.language) for song in songs]
    raw = {s.name: [words_line(as_words(song_reference_words(s)))] for s in songs}
    cues = {s.name: word_cues(as_words(song_reference_words(s)), s.language, LayoutOptions())
            for s in songs}
    folds = {s.name: k % FOLDS for k, s in enumerate(songs)}
    models = [fit([d for s, d in zip(songs, data, strict=True) if folds[s.name] != k])
              for k in range(FOLDS)]
    references = [s.lyrics for s in songs]
    languages = [s.language for s in songs]
    rules = pooled(references, [render_txt(lay_out(raw[s.name], cues[s.name])) for s in songs],
                   languages)
    print("jam-alt-text (words; model by 7-fold cross-validation over songs)")
    print(f"  rules (alt default): line F1 {rules[0]:.3f}, case gap {rules[1]:.2f}")
    best = None
    for threshold in THRESHOLDS:
        hyps = [render_txt(lay_out(raw[s.name], cues[s.name],
                                   model_steps(models[folds[s.name]], threshold)))
                for s in songs]
        got = pooled(references, hyps, languages)
        print(f"  model, threshold {threshold:.2f}: line F1 {got[0]:.3f}, case gap {got[1]:.2f}")
        if best is None or got[0] > best[1][0]:
            best = (threshold, got)
    threshold = best[0]
    full = fit(data)
    print(f"threshold chosen on jam-alt-text: {threshold:.2f}; coefficients "
          f"{np.round(full.coef_[0], 2).tolist()} intercept {full.intercept_[0]:.2f}")
    for set_name in ("jam-alt-dev", "ultrastar-dev"):
        folder = args.inputs / "inputs" / set_name
        items = []
        for path in sorted(folder.glob("*.alt.pkl")):
            name = path.name[: -len(".alt.pkl")]
            raw_lines, song_cues = pickle.loads(path.read_bytes())["input"]
            reference = (args.shared / set_name / "lyrics" / f"{name}.txt").read_text("utf-8")
            items.append((name, raw_lines, song_cues, reference))
        if not items:
            print(f"{set_name}: no layout inputs in {folder} (run layout_protocol.py first)")
            continue
        refs = [i[3] for i in items]
        langs = [i[2].language for i in items]
        sections = DATASETS["jam-alt" if set_name == "jam-alt-dev" else "ultrastar"].sections
        rule = pooled(refs, [render_txt(lay_out(i[1], i[2])) for i in items], langs, sections)
        steps = model_steps(full, threshold, audio=True)
        got = pooled(refs, [render_txt(lay_out(i[1], i[2], steps)) for i in items],
                     langs, sections)
        worst = min(range(len(items)), key=lambda k: got[2][k] - rule[2][k])
        print(f"{set_name} (audio, base + Spleeter): rules line F1 {rule[0]:.3f}, case gap "
              f"{rule[1]:.2f}; model line F1 {got[0]:.3f}, case gap {got[1]:.2f}; worst song "
              f"{items[worst][0]} ({got[2][worst] - rule[2][worst]:+.3f})")


if __name__ == "__main__":
    main()
