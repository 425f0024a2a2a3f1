"""Place lyrics the user already has on the audio (``alt align``).

The method reuses alt's own stages.  The song is separated and cut into RMS-VAD windows and
transcribed once, as ``alt transcribe`` does; the user's words are then matched to that first
transcription by an edit-distance alignment of words that also knows where sung time went
unheard (:func:`alt_cli.word_matching.match_in_time`: a chorus heard once but written twice
lands where there is time to sing it), which tells which window each user word is sung in
(words matched to nothing follow their nearest matched neighbour).  Each window is then
force-aligned alone: Whisper's cross-attention alignment (``whisper.timing.find_alignment``) of
exactly the user's tokens assigned to it, so a window only aligns the words sung in it and a
mistake stays inside its window.

The user's text is kept as written (lines, blank lines between sections, case, punctuation).
A line none of whose words were heard in the first transcription is reported as unplaced (its
times are then only the forced alignment's guess); a text most of whose words were not heard at
all probably belongs to another song.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch
from whisper.audio import HOP_LENGTH, N_SAMPLES
from whisper.timing import find_alignment

from alt_cli.audio import ASR_SAMPLE_RATE, SongAudio
from alt_cli.errors import AltError
from alt_cli.fileio import sha256_files
from alt_cli.schema import LyricLine, SeparationResult, SongTranscript, Window, Word
from alt_cli.segmentation import detect_vocal_activity
from alt_cli.transcription import model_tokenizer, window_audio, window_mels
from alt_cli.whisper_compat import EncodedWindow
from alt_cli.word_matching import HeardWord, match_in_time, match_words, normalise

__all__ = ["Aligner", "Placement", "UserLine", "heard_words", "match_words", "normalise",
           "place_lyrics", "read_lyrics", "spread_to_windows"]

MIN_HEARD_SHARE = 0.2  # fewer of the user's words heard than this: another song's lyrics?
MAX_WINDOW_TOKENS = 440  # Whisper's text context is 448 tokens, minus the prompt


@dataclass(frozen=True)
class UserLine:
    """One line of the user's lyrics, as written, with its words."""

    text: str
    section: int
    words: tuple[str, ...]


@dataclass(frozen=True)
class Placement:
    """What the alignment did with the user's text."""

    lines: tuple[LyricLine, ...]
    heard_share: float  # share of the user's words found in the first transcription
    unplaced: tuple[int, ...]  # indices of lines none of whose words were heard
    windows: tuple[int, ...]  # window index per user word


def read_lyrics(path: Path) -> tuple[UserLine, ...]:
    """The user's lyrics file: one sung line per line, a blank line between sections."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise AltError(f"{path}: cannot read the lyrics as UTF-8 text "
                       f"({getattr(exc, 'strerror', None) or exc})") from None
    lines, section, gap = [], 0, False
    for raw in text.splitlines():
        stripped = raw.strip()
        if not stripped:
            gap = bool(lines)
            continue
        if gap:
            section, gap = section + 1, False
        lines.append(UserLine(stripped, section, tuple(stripped.split())))
    if not any(line.words for line in lines):
        raise AltError(f"{path}: no lyrics in this file")
    return tuple(lines)


def spread_to_windows(anchors: Sequence[int | None]) -> list[int]:
    """Each word's window: its anchor's, else its nearest anchored neighbour's (the earlier
    one on a tie), so unheard words stay between the words around them."""
    known = [i for i, window in enumerate(anchors) if window is not None]
    if not known:
        return [0] * len(anchors)
    out = []
    for i, window in enumerate(anchors):
        if window is not None:
            out.append(window)
            continue
        nearest = min(known, key=lambda k: (abs(k - i), k > i))
        out.append(anchors[nearest])  # type: ignore[arg-type]
    return out


def _token_ranges(tokenizer, words: Sequence[str]) -> tuple[list[int], list[tuple[int, int]]]:
    tokens, ranges = [], []
    for word in words:
        encoded = tokenizer.encode(" " + word)
        ranges.append((len(tokens), len(tokens) + len(encoded)))
        tokens += encoded
    return tokens, ranges


def align_window(model, tokenizer, features: torch.Tensor, window: Window,
                 words: Sequence[str]) -> list[tuple[float, float, float]]:
    """(start, end, probability) in song time for each of ``words`` sung in ``window``."""
    tokens, ranges = _token_ranges(tokenizer, words)
    if not tokens:
        return []
    if len(tokens) > MAX_WINDOW_TOKENS:
        raise AltError(f"{len(words)} words in one {window.duration:.0f}-s window: more than "
                       f"Whisper can align at once")
    num_frames = min(int(round(window.duration * ASR_SAMPLE_RATE)) // HOP_LENGTH,
                     N_SAMPLES // HOP_LENGTH)
    with torch.inference_mode():
        timings = find_alignment(EncodedWindow(model), tokenizer, tokens, features, num_frames)
    # Whisper regroups tokens into its own words; map its timings back onto the user's words.
    token_times: list[tuple[float, float, float]] = []
    for timing in timings:
        for _ in timing.tokens:
            token_times.append((float(timing.start), float(timing.end),
                                float(timing.probability)))
    placed = []
    for start_token, end_token in ranges:
        spans = token_times[start_token:end_token] or token_times[-1:]
        start, end = spans[0][0], spans[-1][1]
        probability = float(np.mean([p for _, _, p in spans]))
        placed.append((window.song_time(start), window.song_time(max(end, start)), probability))
    return placed


def heard_words(first: SongTranscript) -> list[HeardWord]:
    """The first transcription's words with their times (Whisper's word timings; without
    them, each segment's words spread evenly over the segment)."""
    heard = []
    for index, decoded in enumerate(first.windows):
        for segment in decoded.segments:
            timed = [w for w in segment.words if w.text.strip()]
            if timed:
                heard += [HeardWord(w.text.strip(), w.start, w.end, index) for w in timed]
                continue
            texts = segment.text.split()
            step = (segment.end - segment.start) / max(len(texts), 1)
            heard += [HeardWord(text, segment.start + k * step, segment.start + (k + 1) * step,
                                index) for k, text in enumerate(texts)]
    return heard


def place_lyrics(model, audio16k: np.ndarray, windows: Sequence[Window], language: str,
                 lyrics: Sequence[UserLine], first: SongTranscript) -> Placement:
    """Give every word of ``lyrics`` a time, using ``first`` (alt's own transcription of the
    same windows) to decide which window each word is sung in."""
    user = [word for line in lyrics for word in line.words]
    heard = heard_words(first)
    matches = match_in_time(user, heard, [(w.start, w.end) for w in windows])
    per_word = spread_to_windows([m.window if m is not None else None for m in matches])
    heard_pair = [m is not None and m.resembles(word, heard) for word, m in zip(user, matches,
                                                                               strict=True)]
    equal = sum(m is not None and m.equals(word, heard) for word, m in zip(user, matches,
                                                                          strict=True))
    tokenizer = model_tokenizer(model, language)
    times: list[tuple[float, float, float] | None] = [None] * len(user)
    for index, window in enumerate(windows):
        chosen = [i for i, w in enumerate(per_word) if w == index]
        if not chosen:
            continue
        mels = window_mels(model, [window_audio(audio16k, window)])
        dtype = next(model.parameters()).dtype
        with torch.inference_mode():
            features = model.encoder(mels.to(dtype))[0]
        placed = align_window(model, tokenizer, features, window, [user[i] for i in chosen])
        for i, timing in zip(chosen, placed, strict=True):
            times[i] = timing
    # A word the first pass heard as written keeps the first pass's time: that decoding chose
    # its own timestamps and its onsets are the closer ones (dev songs, measured before the
    # substitution cost was doubled: 84.3 % within 0.3 s against 82.6 % for forced times).
    for i, match in enumerate(matches):
        if match is not None and match.heard is not None and match.equals(user[i], heard):
            timed = times[i]
            word = heard[match.heard]
            times[i] = (word.start, word.end, timed[2] if timed is not None else 1.0)
    times = _in_order(times)
    lines, unplaced, cursor = [], [], 0
    for number, line in enumerate(lyrics):
        indices = range(cursor, cursor + len(line.words))
        cursor += len(line.words)
        words = tuple(Word(" " + user[i], *times[i]) for i in indices if times[i] is not None)
        if line.words and not any(heard_pair[i] for i in indices):
            unplaced.append(number)
        if words:
            lines.append(LyricLine(words[0].start, words[-1].end, line.text, line.section, words))
        else:
            lines.append(LyricLine(0.0, 0.0, line.text, line.section))
    heard_share = equal / len(user) if user else 0.0
    return Placement(tuple(lines), heard_share, tuple(unplaced), tuple(per_word))


def _in_order(times: list[tuple[float, float, float] | None]
              ) -> list[tuple[float, float, float] | None]:
    """Onsets never go back in time: words are sung in the order they are written."""
    out, latest = [], 0.0
    for timing in times:
        if timing is None:
            out.append(None)
            continue
        start = max(timing[0], latest)
        latest = start
        out.append((start, max(timing[1], start), timing[2]))
    return out


def lyrics_beside(song: Path) -> Path:
    """Where ``alt align FOLDER`` looks for a song's lyrics: the same name, ``.txt``."""
    return song.with_suffix(".txt")


class Aligner:
    """``alt align``: a :class:`Transcriber` whose result is the user's lyrics, placed.

    It offers the interface the batch runner uses (``separate``, ``transcribe``, ``prepare``,
    ``result_key``), so folders of songs get the same skip, resume, isolation, report and
    exit codes as ``alt transcribe``.
    """

    def __init__(self, transcriber, lyrics: dict[Path, Path] | None = None, force: bool = False):
        self.transcriber = transcriber
        self.options = transcriber.options
        self.model_name, self.device = transcriber.model_name, transcriber.device
        self.reporter = transcriber.reporter
        self.lyrics = {song.resolve(): path for song, path in (lyrics or {}).items()}
        self.force = force

    def lyrics_for(self, song: Path) -> Path:
        return self.lyrics.get(song.resolve(), lyrics_beside(song))

    def problem(self, source: Path) -> str | None:
        lyrics = self.lyrics_for(source)
        return None if lyrics.is_file() else f"no lyrics to align: {lyrics} does not exist"

    def result_key(self, source: Path) -> str:
        """The transcriber's settings plus the lyrics' content: new lyrics are a new result."""
        lyrics = self.lyrics_for(source)
        digest = sha256_files([lyrics]) if lyrics.is_file() else "missing"
        return f"{self.transcriber.result_key(source)}|align|{digest}|force={self.force}"

    def prepare(self) -> None:
        self.transcriber.prepare()

    def load(self, source: str | Path) -> SongAudio:
        return self.transcriber.load(source)

    def separate(self, song):
        return self.transcriber.separate(song)

    def transcribe(self, source: str | Path | SongAudio, *,
                   separated: SeparationResult | None = None) -> SongTranscript:
        """The lyrics of ``source`` (a path or decoded audio), placed on it."""
        song = source if isinstance(source, SongAudio) else self.transcriber.load(source)
        lyrics_path = self.lyrics_for(song.path)
        if not lyrics_path.is_file():
            raise AltError(f"no lyrics to align: {lyrics_path} does not exist")
        lyrics = read_lyrics(lyrics_path)
        if separated is None:
            separated = self.transcriber.separate(song)
        if separated is None or self.options.segmenter != "rmsvad":
            raise AltError("alt align places words window by window: use --segmenter rmsvad")
        first = self.transcriber.transcribe(song, separated=separated)
        if not first.windows:
            raise AltError("no vocals found in the song: there is nothing to align the "
                           "lyrics to")
        # The same windows and audio the first transcription used (both are deterministic).
        vocals16k, mix16k, audio16k, _ = self.transcriber.views(song, separated)
        activity = detect_vocal_activity(vocals16k, self.options.vad, mix16k)
        placement = place_lyrics(self.transcriber.whisper_model, audio16k, activity.windows,
                                 first.language, lyrics, first)
        share = placement.heard_share
        if share < MIN_HEARD_SHARE and not self.force:
            raise AltError(f"the lyrics in {lyrics_path.name} do not seem to belong to this song:"
                           f" only {100 * share:.0f} % of their words were heard (--force "
                           f"aligns them anyway)")
        notes = [f"lyrics from {lyrics_path}; {100 * share:.0f} % of their words heard in a "
                 f"first transcription"]
        for number in placement.unplaced:
            line = lyrics[number]
            notes.append(f"line {number + 1} ({line.text!r}) was not heard: its time is the "
                         f"forced alignment's guess")
        return replace(first, lines=placement.lines, notes=(*first.notes, *notes))
