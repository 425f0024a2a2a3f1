"""Whisper on RMS-VAD windows: batched, timestamped, with per-window temperature fallback.

Why not Whisper's own long-form loop: it slides a 30 s window blindly (cutting words, spending
time on instrumental passages) and conditions each window on the previous text, which is how one
hallucination turns into a song-long loop.  Our windows come from the vocal activity, are
independent (so they batch), and each is decoded with timestamp tokens so Whisper's own segments
inside a window give the sung lines.  Fallback re-decodes only the windows that need it.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch
import whisper
from whisper.audio import HOP_LENGTH, N_SAMPLES
from whisper.decoding import DecodingOptions, DecodingResult
from whisper.timing import add_word_timestamps
from whisper.tokenizer import Tokenizer, get_tokenizer

from alt_cli.audio import ASR_SAMPLE_RATE
from alt_cli.loop_guard import StopLoops, loop_span, trim_loop
from alt_cli.options import DEFAULT_BATCH_SIZE, GPU_BATCH_SIZE, AsrOptions
from alt_cli.schema import AsrSegment, Window, WindowTranscript, Word
from alt_cli.whisper_compat import EncodedWindow, GroupedDecodingTask, cpu_matmul_precision
from alt_cli.whisper_fast import batch_bookkeeping, store_half_weights

TIMESTAMP_STEP = 0.02  # seconds per Whisper timestamp token
LANGUAGE_PROBE_WINDOWS = 3  # most vocal windows used to detect the song's language
SAMPLING_SEED = 0  # fallback temperatures sample; a fixed seed makes reruns reproducible
GAP_FADE = 0.02  # seconds of fade at the edges of a quieted gap
WORD_RATE_SLACK = 3  # words allowed above the rate limit (a window's first and last words)


def text_compression_ratio(text: str) -> float:
    """Whisper's loop detector: repetitive text compresses well."""
    data = text.encode("utf-8")
    return len(data) / len(zlib.compress(data)) if data else 0.0


def windows_per_batch(model: whisper.model.Whisper) -> int:
    """``--batch-size``'s default: larger on a GPU, where a step costs about the same for
    more rows, than on a CPU, where rows cost in proportion."""
    on_gpu = model is not None and model.device.type == "cuda"
    return GPU_BATCH_SIZE if on_gpu else DEFAULT_BATCH_SIZE


def beam_width(beam_size: int) -> int | None:
    """Whisper's beam_size argument: None (greedy) for a beam of one."""
    return beam_size if beam_size > 1 else None


def sample_count(best_of: int) -> int | None:
    """Whisper's best_of argument: None (one sample) for one."""
    return best_of if best_of > 1 else None


def use_fp16(model: whisper.model.Whisper, options: AsrOptions) -> bool:
    """Half precision as asked, or, left to auto, on a GPU only."""
    return options.fp16 if options.fp16 is not None else model.device.type == "cuda"


def model_tokenizer(model: whisper.model.Whisper, language: str | None) -> Tokenizer:
    return get_tokenizer(
        model.is_multilingual,
        num_languages=model.num_languages,
        language=language if model.is_multilingual else "en",
        task="transcribe",
    )


def window_audio(audio16k: np.ndarray, window: Window, quiet_gaps: bool = False) -> np.ndarray:
    """Whisper's input for a window: the song's span, or its segments packed end to end.

    With `quiet_gaps`, a span is zeroed between its segments (short fades).
    """
    def samples(seconds: float) -> int:
        return int(round(seconds * ASR_SAMPLE_RATE))

    if window.pack_gap is not None:
        silence = np.zeros(samples(window.pack_gap), dtype=audio16k.dtype)
        parts = []
        for i, seg in enumerate(window.segments):
            parts += [silence] if i else []
            parts.append(audio16k[samples(seg.start) : samples(seg.end)])
        return np.concatenate(parts)
    start = samples(window.start)
    chunk = audio16k[start : samples(window.end)]
    if not quiet_gaps or len(window.segments) < 2:
        return chunk
    mask = np.zeros(len(chunk), dtype=np.float32)
    for seg in window.segments:
        mask[samples(seg.start) - start : samples(seg.end) - start] = 1.0
    # 20 ms ramps: a hard cut would be a click Whisper might hear as a consonant.
    ramp = int(GAP_FADE * ASR_SAMPLE_RATE)
    padded = np.pad(mask, ramp, mode="edge")  # the window's own edges are not faded
    mask = np.convolve(padded, np.ones(ramp, dtype=np.float32) / ramp, mode="same")[ramp:-ramp]
    return (chunk * mask).astype(chunk.dtype)


def window_mels(model: whisper.model.Whisper, chunks: Sequence[np.ndarray]) -> torch.Tensor:
    """Log-mel of each chunk padded to 30 s, computed on the model's device, as one batch."""
    padded = torch.stack(
        [whisper.pad_or_trim(torch.from_numpy(np.ascontiguousarray(c))) for c in chunks]
    ).to(model.device)
    return whisper.log_mel_spectrogram(padded, n_mels=model.dims.n_mels)


def detect_language(
    model: whisper.model.Whisper,
    audio16k: np.ndarray,
    windows: Sequence[Window],
    vocal_energy: Sequence[float],
) -> tuple[str, float]:
    """Language of the song from its most vocal windows (an intro says nothing about it)."""
    if not model.is_multilingual:
        return "en", 1.0
    if not windows:
        return "en", 0.0
    order = np.argsort(vocal_energy)[::-1][:LANGUAGE_PROBE_WINDOWS]
    mels = window_mels(model, [window_audio(audio16k, windows[i]) for i in order])
    with torch.inference_mode():
        _, probs = model.detect_language(mels.to(next(model.parameters()).dtype))
    totals: dict[str, float] = {}
    for item in probs:
        for code, p in item.items():
            totals[code] = totals.get(code, 0.0) + p / len(probs)
    best = max(totals, key=totals.__getitem__)
    return best, totals[best]


def split_timed_segments(
    tokens: Sequence[int], tokenizer: Tokenizer, duration: float
) -> list[tuple[float, float, list[int]]]:
    """Group a window's tokens into (start, end, text tokens) by its timestamp tokens.

    Whisper writes ``<|t0|> text <|t1|><|t1|> text <|t2|>``; a closing timestamp may be missing
    at the end, in which case the segment runs to the window's end.
    """
    segments = []
    start: float | None = None
    pending: list[int] = []
    for token in tokens:
        if token >= tokenizer.timestamp_begin:
            time = min((token - tokenizer.timestamp_begin) * TIMESTAMP_STEP, duration)
            if pending:
                segments.append((start if start is not None else 0.0, time, pending))
                pending, start = [], None
            else:
                start = time
        elif token < tokenizer.eot:
            pending.append(token)
    if pending:
        segments.append((start if start is not None else 0.0, duration, pending))
    return segments


class WindowTranscriber:
    """Decodes windows with one loaded Whisper model; reuse it across songs."""

    def __init__(self, model: whisper.model.Whisper, options: AsrOptions,
                 batched_bookkeeping: bool = True):
        """`batched_bookkeeping` False keeps openai-whisper's own per-row beam search and
        timestamp rules (the same tokens, many more GPU round trips): for comparisons."""
        self.model = model
        self.options = options
        self.batched_bookkeeping = batched_bookkeeping
        if batched_bookkeeping and model is not None and model.device.type == "cuda" and self.fp16:
            store_half_weights(model)  # the same numbers as casting at every call

    @property
    def fp16(self) -> bool:
        return use_fp16(self.model, self.options)

    def _decode(
        self, mels: torch.Tensor, language: str, temperature: float
    ) -> list[DecodingResult]:
        opts = self.options
        decoding = DecodingOptions(
            task="transcribe",
            language=language,
            temperature=temperature,
            beam_size=beam_width(opts.beam_size) if temperature == 0 else None,
            best_of=sample_count(opts.best_of) if temperature > 0 else None,
            without_timestamps=False,
            fp16=self.fp16,
            sample_len=opts.sample_len,
        )
        task = GroupedDecodingTask(self.model, decoding)
        if self.batched_bookkeeping:
            batch_bookkeeping(task)
        task.logit_filters.append(StopLoops(task.tokenizer.eot, task.sample_begin))
        with torch.inference_mode():
            return task.run(mels)

    def _needs_retry(self, result: DecodingResult, voiced: float | None = None) -> bool:
        opts = self.options
        if self._is_silent(result):
            return False
        return (
            text_compression_ratio(result.text) > opts.compression_ratio_threshold
            or result.avg_logprob < opts.logprob_threshold
            or loop_span(result.tokens) > 0
            or self._too_many_words(result, voiced)
        )

    def _too_many_words(self, result: DecodingResult, voiced: float | None) -> bool:
        limit = self.options.max_words_per_second
        if limit is None or voiced is None:
            return False
        return len(result.text.split()) > limit * voiced + WORD_RATE_SLACK

    def _is_silent(self, result: DecodingResult) -> bool:
        opts = self.options
        return (
            result.no_speech_prob > opts.no_speech_threshold
            and result.avg_logprob < opts.logprob_threshold
        )

    def decode_with_fallback(
        self, mels: torch.Tensor, language: str, voiced: Sequence[float] | None = None
    ) -> list[DecodingResult]:
        """Decode a batch; windows that loop or are unsure go again at the next temperature.

        `mels` may also be the encoder's output for the batch: Whisper then skips encoding.
        `voiced` is each window's seconds of vocal activity (for the word-rate check).
        """
        first = self._decode(mels, language, self.options.temperatures[0])
        return self._fall_back(mels, first, language, voiced)

    def _fall_back(
        self, mels: torch.Tensor, first: list[DecodingResult], language: str,
        voiced: Sequence[float] | None,
    ) -> list[DecodingResult]:
        """The retries of :meth:`decode_with_fallback`, given the first temperature's results."""
        rows = range(mels.shape[0])
        seconds = list(voiced) if voiced is not None else [None] * mels.shape[0]
        results = list(first)
        attempts = [[r] for r in results]
        for temperature in self.options.temperatures[1:]:
            retry = [i for i in rows if self._needs_retry(results[i], seconds[i])]
            if not retry:
                break
            again = self._decode(mels[retry], language, temperature)
            for i, result in zip(retry, again, strict=True):
                results[i] = result
                attempts[i].append(result)
        if self.options.fallback_pick == "best":
            for i in rows:
                if len(attempts[i]) > 1 and self._needs_retry(results[i], seconds[i]):
                    results[i] = max(attempts[i], key=lambda r: r.avg_logprob)
        return results

    def _window_segments(
        self,
        window: Window,
        result: DecodingResult,
        features: torch.Tensor,
        tokenizer: Tokenizer,
    ) -> tuple[AsrSegment, ...]:
        # A loop that survived every temperature is cut back to one instance of its unit.
        pieces = split_timed_segments(trim_loop(result.tokens), tokenizer, window.duration)
        segments = [
            {"seek": 0, "start": s, "end": e, "tokens": toks, "text": tokenizer.decode(toks)}
            for s, e, toks in pieces
        ]
        if self.options.word_timestamps and segments:
            num_frames = int(round(window.duration * ASR_SAMPLE_RATE)) // HOP_LENGTH
            with torch.inference_mode():
                add_word_timestamps(
                    segments=segments, model=EncodedWindow(self.model), tokenizer=tokenizer,
                    mel=features,
                    num_frames=min(num_frames, N_SAMPLES // HOP_LENGTH),
                    last_speech_timestamp=0.0,
                )  # fmt: skip
        out = []
        for seg in segments:
            to_song = window.song_time
            words = tuple(
                Word(w["word"], to_song(w["start"]), to_song(w["end"]), w.get("probability"))
                for w in seg.get("words", [])
            )
            out.append(
                AsrSegment(to_song(seg["start"]), to_song(seg["end"]), seg["text"].strip(), words)
            )
        return tuple(out)

    def transcribe(
        self,
        audio16k: np.ndarray,
        windows: Sequence[Window],
        language: str,
        on_progress: Callable[[int], None] | None = None,
    ) -> list[WindowTranscript]:
        """Transcribe every window; returned in the windows' order."""
        return self.transcribe_many([WindowJob(audio16k, windows, language)], on_progress)[0]

    def transcribe_many(
        self, jobs: Sequence[WindowJob], on_progress: Callable[[int], None] | None = None
    ) -> list[list[WindowTranscript]]:
        """Transcribe the windows of several songs, sharing Whisper's batches between them.

        Why: a 3-min song has ~6 windows, and on a GPU a decoding step costs about the same for
        6 rows as for 16, so songs decoded together take a fraction of the steps.  Each song's
        lyrics stay what it gets alone: the first (temperature-0) pass is deterministic, so it
        may run in any batch, and each song's retries run in the batches it would have had
        alone, from its own seeded random state (sampling draws depend on the batch).  Where
        the first temperature samples, songs are done one after another instead.
        """
        size = max(1, self.options.batch_size or windows_per_batch(self.model))
        chunks = [_chunks(job.windows, size) for job in jobs]
        shared = len(jobs) > 1 and self.options.temperatures[0] == 0
        plan = _shared_plan(jobs, size) if shared else [
            [(j, i) for i in chunk] for j in range(len(jobs)) for chunk in chunks[j]]
        tokenizers = {job.language: model_tokenizer(self.model, job.language) for job in jobs}
        transcripts: list[list[WindowTranscript | None]] = [[None] * len(j.windows) for j in jobs]
        first: dict[tuple[int, int], DecodingResult] = {}  # first-pass results
        encoded: dict[tuple[int, int], torch.Tensor] = {}  # held until the window is done
        done = [0] * len(jobs)  # chunks finished per song
        states: list[tuple | None] = [None] * len(jobs)  # each song's random state
        with cpu_matmul_precision(self.model, self.options.cpu_bf16_matmul):
            for entries in plan:
                if not shared and done[entries[0][0]] == 0:
                    torch.manual_seed(SAMPLING_SEED)  # same song, same settings -> same lyrics
                self._first_pass(jobs, entries, chunks, first, encoded)
                for j, job in enumerate(jobs):
                    while done[j] < len(chunks[j]) and all(
                            (j, i) in first for i in chunks[j][done[j]]):
                        chunk = chunks[j][done[j]]
                        if shared:
                            _enter_random_state(states[j], self.model.device)
                        self._finish_chunk(job, j, chunk, first, encoded,
                                           tokenizers[job.language], transcripts[j])
                        if shared:
                            states[j] = _random_state(self.model.device)
                        done[j] += 1
                        if on_progress:
                            on_progress(len(chunk))
        return [[t for t in song if t is not None] for song in transcripts]

    def _first_pass(self, jobs: Sequence[WindowJob], entries: list[tuple[int, int]],
                    chunks: list[list[list[int]]],
                    first: dict[tuple[int, int], DecodingResult],
                    encoded: dict[tuple[int, int], torch.Tensor]) -> None:
        """Decode a batch of windows (of one language) at the first temperature; keep each
        window's result and encoder output for its retries and word timings.

        The encoder runs over each song's own batches, whatever the decoding batch: its output
        then does not depend on which songs were decoded together (a batched product may sum in
        another order), so the retries and the word timings are the song's own.
        """
        for j, i in entries:
            if (j, i) not in encoded:
                chunk = next(c for c in chunks[j] if i in c)
                encoded.update(zip([(j, k) for k in chunk], self._encode(jobs[j], chunk),
                                   strict=True))
        features = torch.stack([encoded[entry] for entry in entries])
        language = jobs[entries[0][0]].language
        results = self._decode(features, language, self.options.temperatures[0])
        first.update(zip(entries, results, strict=True))

    def _encode(self, job: WindowJob, chunk: list[int]) -> torch.Tensor:
        """Whisper's encoder output for a song's windows, as one batch."""
        mels = window_mels(self.model, [window_audio(job.audio16k, job.windows[i],
                                                     self.options.quiet_gaps) for i in chunk])
        if self.fp16:
            mels = mels.half()
        with torch.inference_mode():  # encoded once: fallback and alignment reuse it
            return self.model.encoder(mels)

    def _finish_chunk(
        self, job: WindowJob, j: int, chunk: list[int],
        first: dict[tuple[int, int], DecodingResult], encoded: dict[tuple[int, int], torch.Tensor],
        tokenizer: Tokenizer, transcripts: list[WindowTranscript | None],
    ) -> None:
        """Retries and word timings for one of a song's own batches; fill `transcripts`."""
        results = [first.pop((j, i)) for i in chunk]
        features = torch.stack([encoded.pop((j, i)) for i in chunk])
        voiced = [job.windows[i].voiced_seconds for i in chunk]
        results = self._fall_back(features, results, job.language, voiced)
        for row, (index, result) in enumerate(zip(chunk, results, strict=True)):
            window = job.windows[index]
            silent = self._is_silent(result)
            segments = () if silent else self._window_segments(
                window, result, features[row], tokenizer
            )
            text = " ".join(seg.text for seg in segments)
            transcripts[index] = WindowTranscript(
                window.start, window.end, text,
                result.temperature, result.avg_logprob, result.no_speech_prob,
                text_compression_ratio(result.text), silent, segments,
            )  # fmt: skip


@dataclass(frozen=True)
class WindowJob:
    """One song's windows for :meth:`WindowTranscriber.transcribe_many`."""

    audio16k: np.ndarray
    windows: Sequence[Window]
    language: str


def _chunks(windows: Sequence[Window], size: int) -> list[list[int]]:
    """A song's own batches: its windows longest first (similar lengths decode similar token
    counts, so a batch wastes fewer steps), `size` at a time."""
    order = sorted(range(len(windows)), key=lambda i: windows[i].duration, reverse=True)
    return [order[k : k + size] for k in range(0, len(order), size)]


def _shared_plan(jobs: Sequence[WindowJob], size: int) -> list[list[tuple[int, int]]]:
    """First-pass batches over all songs: one language per batch, longest windows first."""
    languages = list(dict.fromkeys(job.language for job in jobs))
    entries = sorted(
        ((j, i) for j, job in enumerate(jobs) for i in range(len(job.windows))),
        key=lambda e: (languages.index(jobs[e[0]].language), -jobs[e[0]].windows[e[1]].duration),
    )
    plan: list[list[tuple[int, int]]] = []
    for language in languages:
        mine = [e for e in entries if jobs[e[0]].language == language]
        plan += [mine[k : k + size] for k in range(0, len(mine), size)]
    return plan


def _random_state(device: torch.device) -> tuple:
    cuda = torch.cuda.get_rng_state(device) if device.type == "cuda" else None
    return torch.get_rng_state(), cuda


def _enter_random_state(state: tuple | None, device: torch.device) -> None:
    """Make `state` (a song's own random state; None: a fresh song) the current one."""
    if state is None:
        torch.manual_seed(SAMPLING_SEED)
    else:
        torch.set_rng_state(state[0])
        if state[1] is not None:
            torch.cuda.set_rng_state(state[1], device)


def transcribe_native(
    model: whisper.model.Whisper, audio16k: np.ndarray, language: str | None, options: AsrOptions
) -> tuple[list[AsrSegment], str]:
    """Whisper's own long-form transcribe() on the whole song: the baseline.

    With no language given, Whisper detects it from the first 30 s, as plain Whisper does.
    Seeded like the windows: its fallback temperatures sample, and unseeded the baseline's
    lyrics depended on what the process had drawn from torch's generator before.
    """
    torch.manual_seed(SAMPLING_SEED)
    with torch.inference_mode():
        result = whisper.transcribe(
            model, np.asarray(audio16k), language=language, task="transcribe", verbose=None,
            temperature=options.temperatures, beam_size=beam_width(options.beam_size),
            best_of=sample_count(options.best_of), fp16=use_fp16(model, options),
            compression_ratio_threshold=options.compression_ratio_threshold,
            logprob_threshold=options.logprob_threshold,
            no_speech_threshold=options.no_speech_threshold,
            condition_on_previous_text=True, word_timestamps=options.word_timestamps,
        )  # fmt: skip
    segments = [
        AsrSegment(
            float(seg["start"]), float(seg["end"]), seg["text"].strip(),
            tuple(Word(w["word"], float(w["start"]), float(w["end"]), w.get("probability"))
                  for w in seg.get("words", [])),
        )  # fmt: skip
        for seg in result["segments"]
    ]
    return segments, str(result.get("language") or language or "en")
