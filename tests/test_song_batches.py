"""Windows of several songs share Whisper's batches and each song's lyrics stay what it gets
alone (issues 11 and 13: a 3-min song rarely fills a GPU batch)."""

from __future__ import annotations

import pytest

from alt_cli.schema import Segment, Window
from alt_cli.transcription import WindowJob, _chunks, _shared_plan


def _job(durations: list[float], language: str = "en") -> WindowJob:
    windows, start = [], 0.0
    for d in durations:
        windows.append(Window((Segment(start, start + d),)))
        start += d + 1.0
    return WindowJob(None, windows, language)


def test_a_song_alone_keeps_its_own_batches_longest_first():
    job = _job([5.0, 20.0, 12.0, 28.0, 3.0])
    assert _chunks(job.windows, 2) == [[3, 1], [2, 0], [4]]


def test_shared_batches_mix_songs_of_one_language_only():
    jobs = [_job([10.0, 25.0]), _job([20.0], "fr"), _job([30.0, 5.0, 15.0])]
    plan = _shared_plan(jobs, 3)
    assert plan == [[(2, 0), (0, 1), (2, 2)], [(0, 0), (2, 1)], [(1, 0)]]
    assert sorted(e for batch in plan for e in batch) == sorted(
        (j, i) for j, job in enumerate(jobs) for i in range(len(job.windows)))


def _words(transcripts) -> list:
    return [(t.text, t.temperature, t.silent,
             [(s.start, s.end, [(w.text, w.start, w.end) for w in s.words]) for s in t.segments])
            for t in transcripts]


@pytest.mark.slow
@pytest.mark.parametrize("retries", [False, True])
def test_songs_decoded_together_equal_songs_decoded_alone(example_song, session_cache, retries):
    """tiny.en on two 'songs' (windows of the real example), batches of 2 that mix them; with
    `retries`, every window is unsure, so each goes through the sampled temperatures too."""
    from alt_cli.audio import load_song
    from alt_cli.models import load_whisper
    from alt_cli.options import AsrOptions
    from alt_cli.transcription import WindowTranscriber

    model, _ = load_whisper("tiny.en", "cpu", session_cache)
    audio = load_song(example_song).mono16k()
    first = WindowJob(audio, [Window((Segment(0.0, 6.0),)), Window((Segment(4.0, 11.0),)),
                              Window((Segment(1.0, 9.0),))], "en")
    second = WindowJob(0.7 * audio, [Window((Segment(2.0, 10.5),)),
                                  Window((Segment(0.5, 5.0),))], "en")
    options = AsrOptions(beam_size=2, batch_size=2, best_of=2,
                         temperatures=(0.0, 0.6, 1.0) if retries else (0.0,),
                         logprob_threshold=0.0 if retries else -1.0)
    decoder = WindowTranscriber(model, options)
    together = decoder.transcribe_many([first, second])
    alone = [decoder.transcribe(job.audio16k, job.windows, job.language)
             for job in (first, second)]
    # Texts, word times and temperatures equal.  The first pass's scores are equal to float
    # rounding: the decoder's matrix products over a mixed batch may sum in another order
    # (~1e-4 in log-probability); retries and word timings run on the song's own batches.
    assert [_words(song) for song in together] == [_words(song) for song in alone]
    for mine, theirs in zip(sum(together, []), sum(alone, []), strict=True):
        assert mine.avg_logprob == pytest.approx(theirs.avg_logprob, abs=2e-3)
    texts = [w.text for song in together for w in song]
    assert len(texts) == 5 and "time" in " ".join(texts).lower()
    if retries:  # the sampled temperatures were used, so the random states were at stake
        assert any(w.temperature > 0 for song in together for w in song)


@pytest.mark.slow
def test_transcriber_songs_together_equal_songs_alone(example_song, example_wav, tmp_path,
                                                       session_cache):
    """The whole pipeline (real tiny.en + Spleeter): three songs, one of them silent, through
    shared batches give each song the lines it gets alone."""
    from alt_cli.options import AsrOptions, SeparatorOptions, TranscribeOptions
    from alt_cli.pipeline import Transcriber
    from tests.conftest import write_tone

    silent = write_tone(tmp_path / "silence.wav", 5.0, rate=44100, channels=2)
    options = TranscribeOptions(model="tiny.en", device="cpu", cache_dir=session_cache,
                                asr=AsrOptions(batch_size=4),
                                separation=SeparatorOptions(separator="spleeter"))
    transcriber = Transcriber(options)
    songs = [example_song, silent, example_wav]
    together = transcriber.transcribe_songs(songs)
    alone = [transcriber.transcribe(song) for song in songs]
    assert [t.path for t in together] == songs
    assert [[(line.start, line.end, line.text) for line in t.lines] for t in together] == [
        [(line.start, line.end, line.text) for line in t.lines] for t in alone]
    assert together[0].lines and not together[1].lines
    assert together[1].notes == alone[1].notes
    assert all("asr" in t.timings for t in (together[0], together[2]))
    transcriber.cpu_workers = 2  # the GPU's way: structure, resampling, VAD in threads
    beside = transcriber.transcribe_songs(songs)
    assert [[(line.start, line.end, line.text) for line in t.lines] for t in beside] == [
        [(line.start, line.end, line.text) for line in t.lines] for t in alone]
    assert all("structure" in t.timings for t in beside)



def test_batch_size_default_fills_a_gpu_and_spares_a_cpu():
    """--batch-size unset: 32 windows per batch where the model sits on a GPU (4 songs'
    windows in one round), 8 on a CPU; the setting itself stays unset in the options."""
    from types import SimpleNamespace

    import torch

    from alt_cli.options import AsrOptions
    from alt_cli.transcription import windows_per_batch

    assert AsrOptions().batch_size is None
    assert windows_per_batch(SimpleNamespace(device=torch.device("cuda", 0))) == 32
    assert windows_per_batch(SimpleNamespace(device=torch.device("cpu"))) == 8
