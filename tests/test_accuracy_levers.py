"""The accuracy levers (issue 6), each on hand-made input: foreign-script words, lyrics
conventions, voiced fraction, the vocal blend, quieted gaps, the word-rate check, keeping the
most confident fallback attempt, bench variants, and beam search on a batch of windows."""

from __future__ import annotations

import numpy as np
import pytest
from whisper.decoding import DecodingResult

from alt_cli.audio import whisper_input
from alt_cli.bench.configs import BenchConfig, expand_configs, parse_variant
from alt_cli.errors import AltError
from alt_cli.layout.cleaning import drop_foreign_words, lyrics_conventions
from alt_cli.options import (
    AsrOptions,
    LayoutOptions,
    TranscribeOptions,
    settings_key,
    with_settings,
)
from alt_cli.schema import LyricLine, Segment, Window, Word, voiced_fraction
from alt_cli.segmentation import merge_windows
from alt_cli.transcription import WindowTranscriber, window_audio
from tests.layout_helpers import layout_lines


def _line(text: str) -> LyricLine:
    words = tuple(Word(" " + w, i, i + 0.5) for i, w in enumerate(text.split()))
    return LyricLine(0.0, len(words), text, 0, words)


def test_words_in_a_foreign_script_are_dropped_for_latin_languages():
    line = drop_foreign_words(_line("Seств haría una gran med容 costización"), "es")
    assert line.text == "haría una gran costización"
    assert [w.text.strip() for w in line.words] == ["haría", "una", "gran", "costización"]
    kept = _line("Ça déjà ñandú Straße")  # accented Latin letters are Latin
    assert drop_foreign_words(kept, "fr") == kept
    russian = _line("привет мир")
    assert drop_foreign_words(russian, "ru") == russian  # not a Latin-script language
    assert drop_foreign_words(russian, None) == russian


@pytest.mark.parametrize(
    ("raw", "styled"),
    [
        ("hola, amigo.", "Hola, amigo"),
        ("je t'aime,", "Je t'aime"),
        ("¿qué pasa?", "¿Qué pasa?"),
        ("oh oh!", "Oh oh!"),
        ("...y luego...", "...Y luego"),
        ("42", "42"),
    ],
)
def test_lyrics_conventions(raw, styled):
    assert lyrics_conventions(raw) == styled


def test_layout_applies_filter_and_conventions_only_when_asked():
    raw = [LyricLine(0.0, 2.0, "una noche Seств,", 0)]
    assert layout_lines(raw, options=LayoutOptions(line_capitals=False))[0].text == (
        "una noche Seств,")
    assert layout_lines(raw)[0].text == "Una noche Seств,"  # a capital at the line start only
    styled = LayoutOptions(lyrics_conventions=True)
    assert layout_lines(raw, (), styled, language="es")[0].text == "Una noche"
    unfiltered = LayoutOptions(lyrics_conventions=True, script_filter=False)
    assert layout_lines(raw, (), unfiltered, language="es")[0].text == "Una noche Seств"


def test_voiced_fraction():
    segments = [Segment(0.0, 2.0), Segment(5.0, 6.0)]
    assert voiced_fraction(0.0, 2.0, segments) == 1.0
    assert voiced_fraction(1.0, 5.0, segments) == pytest.approx(0.25)
    assert voiced_fraction(2.5, 4.5, segments) == 0.0
    assert voiced_fraction(3.0, 3.0, segments) == 1.0


def test_whisper_input_choices():
    mix = np.full(4, 0.2, dtype=np.float32)
    vocals = np.full(4, 0.6, dtype=np.float32)
    assert whisper_input(mix, vocals, "mix") is mix
    assert whisper_input(mix, vocals, "vocals") is vocals
    np.testing.assert_allclose(whisper_input(mix, vocals, "blend"), 0.4)
    assert whisper_input(mix, None, "blend") is mix


def test_quiet_gaps_silences_only_between_segments():
    rate = 16000
    audio = np.ones(10 * rate, dtype=np.float32)
    window = Window((Segment(1.0, 3.0), Segment(6.0, 8.0)))
    plain = window_audio(audio, window)
    assert plain.shape == (7 * rate,) and plain.min() == 1.0
    quiet = window_audio(audio, window, quiet_gaps=True)
    assert quiet.shape == plain.shape
    # Window-relative: segment 1 is 0-2 s, the gap 2-5 s, segment 2 5-7 s.
    assert quiet[: int(1.95 * rate)].min() == pytest.approx(1.0)  # window start not faded
    assert quiet[int(2.05 * rate) : int(4.95 * rate)].max() == 0.0
    assert quiet[int(5.05 * rate) :].min() == pytest.approx(1.0)
    edge = quiet[int(1.98 * rate) : int(2.02 * rate)]
    assert np.any((edge > 0.05) & (edge < 0.95))  # a fade, not a click
    single = Window((Segment(1.0, 3.0),))
    np.testing.assert_array_equal(window_audio(audio, single, True), window_audio(audio, single))


def _result(text: str, logprob: float, temperature: float) -> DecodingResult:
    return DecodingResult(audio_features=None, language="es", tokens=[1, 2, 3], text=text,
                          avg_logprob=logprob, no_speech_prob=0.0, temperature=temperature,
                          compression_ratio=1.0)  # fmt: skip


class _ScriptedDecoder(WindowTranscriber):
    """The fallback logic under test, fed with decodes given per temperature."""

    def __init__(self, options: AsrOptions, by_temperature: dict[float, list[DecodingResult]]):
        super().__init__(model=None, options=options)
        self.by_temperature = by_temperature
        self.calls: list[tuple[float, int]] = []

    def _decode(self, mels, language, temperature):
        self.calls.append((temperature, mels.shape[0]))
        rows = self.by_temperature[temperature]
        return [rows[i] for i in mels.tolist()]  # mels here: the rows' indices


def _run(options: AsrOptions, scripted, voiced=None):
    import torch

    decoder = _ScriptedDecoder(options, scripted)
    rows = torch.arange(len(scripted[0.0]))
    return decoder.decode_with_fallback(rows, "es", voiced), decoder.calls


def test_failing_windows_keep_their_most_confident_attempt_with_pick_best():
    temps = (0.0, 0.5, 1.0)
    scripted = {
        0.0: [_result("uh uh", -1.2, 0.0), _result("bien", -0.2, 0.0)],
        0.5: [_result("junk a", -2.5, 0.5), _result("x", -0.1, 0.5)],
        1.0: [_result("Seств", -4.9, 1.0), _result("y", -0.1, 1.0)],
    }
    last, calls = _run(AsrOptions(temperatures=temps, fallback_pick="last"), scripted)
    assert [r.text for r in last] == ["Seств", "bien"]
    assert calls == [(0.0, 2), (0.5, 1), (1.0, 1)]  # only the failing window is retried
    best, _ = _run(AsrOptions(temperatures=temps, fallback_pick="best"), scripted)
    assert [r.text for r in best] == ["uh uh", "bien"]


def test_too_many_words_for_the_voice_are_retried():
    temps = (0.0, 0.5)
    ten_words = " ".join(["la"] * 10)
    scripted = {0.0: [_result(ten_words, -0.3, 0.0)], 0.5: [_result("la la", -0.4, 0.5)]}
    options = AsrOptions(temperatures=temps, max_words_per_second=5.0)
    kept, _ = _run(options, scripted, voiced=[1.5])  # limit 5 * 1.5 + 3 = 10.5 words
    assert kept[0].text == ten_words
    retried, _ = _run(options, scripted, voiced=[1.0])  # limit 8 words
    assert retried[0].text == "la la"
    unlimited, _ = _run(AsrOptions(temperatures=temps), scripted, voiced=[1.0])
    assert unlimited[0].text == ten_words


def test_variant_specs_take_flag_names_and_field_paths():
    variant = parse_variant("beam5:beam-size=5,keep-gaps=false,asr.fallback_pick=best")
    assert variant.name == "beam5"
    options = variant.apply(TranscribeOptions())
    assert options.asr.beam_size == 5 and options.asr.quiet_gaps is True
    assert options.asr.fallback_pick == "best"
    assert parse_variant("g:vad-cut-silence=0.2").apply(TranscribeOptions()).vad \
        .min_silence_at_max == 0.2
    assert parse_variant("p:pack-gap=keep").apply(TranscribeOptions()).vad.pack_gap is None
    with pytest.raises(AltError):
        parse_variant("no-colon")
    with pytest.raises(AltError):
        parse_variant("x:asr.beam_size")
    with pytest.raises(AltError, match="beam-size"):
        parse_variant("x:beam-size=0")  # out of range: checked before any work
    with pytest.raises(AltError, match="bogus"):
        parse_variant("x:bogus=1")
    options = with_settings(TranscribeOptions(), [("asr.beam_size", 2),
                                                  ("layout.section_gap", 3.0),
                                                  ("asr.temperatures", (0.0, 0.5))])
    assert options.asr.beam_size == 2 and options.layout.section_gap == 3.0
    assert options.asr.temperatures == (0.0, 0.5)
    assert TranscribeOptions().asr.beam_size == 5  # the default is untouched
    with pytest.raises(AltError, match="asr.bogus"):
        with_settings(TranscribeOptions(), [("asr.bogus", 1)])


def test_auto_asr_input_is_the_pipeline_default_and_the_mix_for_native():
    configs = expand_configs(["base"], ["spleeter", "demucs"], ["rmsvad", "native"], ["auto"])
    assert [c.label for c in configs] == ["base.spleeter.rmsvad.blend", "base.none.native.mix",
                                          "base.demucs.rmsvad.vocals"]


def test_variants_multiply_configurations_and_name_them():
    configs = expand_configs(["base"], ["spleeter"], ["rmsvad"], ["mix"], "long", ("", "beam5"))
    assert configs == [BenchConfig("base", "spleeter", "rmsvad", "mix"),
                       BenchConfig("base", "spleeter", "rmsvad", "mix", "beam5")]
    assert [c.label for c in configs] == ["base.spleeter.rmsvad.mix",
                                          "base.spleeter.rmsvad.mix.beam5"]


@pytest.mark.slow
def test_beam_search_on_a_batch_matches_window_by_window(example_song, session_cache):
    """openai-whisper's batched beam search fails on >1 window; ours matches one at a time."""
    from alt_cli.audio import load_song
    from alt_cli.models import load_whisper

    model, _ = load_whisper("tiny.en", "cpu", session_cache)
    audio = load_song(example_song).mono16k()
    windows = [Window((Segment(0.0, 6.0),)), Window((Segment(4.0, 11.0),)),
               Window((Segment(1.0, 9.0),))]
    batched = WindowTranscriber(model, AsrOptions(beam_size=3, batch_size=3))
    alone = WindowTranscriber(model, AsrOptions(beam_size=3, batch_size=1))
    texts = [w.text for w in batched.transcribe(audio, windows, "en")]
    assert texts == [w.text for w in alone.transcribe(audio, windows, "en")]
    assert all(texts) and "time" in " ".join(texts).lower()


def test_packed_windows_hold_more_voice_and_map_times_back():
    segments = [Segment(0.0, 10.0), Segment(25.0, 35.0), Segment(50.0, 60.0)]
    assert [len(w.segments) for w in merge_windows(segments)] == [1, 1, 1]  # spans > 30 s
    packed = merge_windows(segments, pack_gap=0.5)
    assert [len(w.segments) for w in packed] == [2, 1]  # 10 + 0.5 + 10 <= 30 < 31
    window = packed[0]
    assert window.duration == pytest.approx(20.5)
    assert window.input_offsets() == [0.0, pytest.approx(10.5)]
    assert window.song_time(3.0) == 3.0
    assert window.song_time(10.2) == 10.0  # inside the packing gap: end of segment 1
    assert window.song_time(11.5) == pytest.approx(26.0)
    assert window.song_time(99.0) == 35.0
    assert merge_windows(segments, pack_gap=0.5)[1].song_time(1.0) == 51.0


def test_packed_window_audio_is_the_segments_joined_with_silence():
    rate = 16000
    audio = np.arange(60 * rate, dtype=np.float32) + 1.0  # every sample non-zero
    window = Window((Segment(1.0, 2.0), Segment(5.0, 5.5)), pack_gap=0.25)
    joined = window_audio(audio, window)
    assert len(joined) == int(1.75 * rate)
    np.testing.assert_array_equal(joined[:rate], audio[rate : 2 * rate])
    assert joined[rate : rate + rate // 4].max() == 0.0
    np.testing.assert_array_equal(joined[rate + rate // 4 :], audio[5 * rate : int(5.5 * rate)])


def test_settings_key_changes_with_any_setting_defaults_included():
    plain = TranscribeOptions(model="base")
    assert settings_key(plain) == settings_key(TranscribeOptions(model="base"))
    assert settings_key(with_settings(plain, [("asr.beam_size", 5)])) == settings_key(plain)
    assert settings_key(with_settings(plain, [("asr.beam_size", 1)])) != settings_key(plain)
    assert settings_key(with_settings(plain, [("vad.pack_gap", 0.5)])) != settings_key(plain)


def _cli_options(*args: str) -> TranscribeOptions:
    from alt_cli.cli import transcribe, transcribe_options_from

    return transcribe_options_from(
        transcribe.make_context("transcribe", ["song.mp3", *args]).params)


def test_cli_defaults_are_the_api_defaults_and_flags_reach_the_options():
    assert _cli_options() == TranscribeOptions()
    changed = _cli_options("--beam-size", "1", "--fallback-pick", "best", "--pack-gap", "0.5",
                           "--max-words-per-second", "5", "--quiet-gaps", "--no-script-filter",
                           "--lyrics-conventions", "--min-voiced-fraction", "0.5",
                           "--asr-input", "blend", "--vad-cut-silence", "0.2", "--cpu-fp32",
                           "--no-word-timestamps", "--section-gap", "6")
    assert changed.asr.beam_size == 1 and changed.asr.fallback_pick == "best"
    assert changed.vad.pack_gap == 0.5 and changed.asr.max_words_per_second == 5.0
    assert changed.asr.quiet_gaps and not changed.layout.script_filter
    assert changed.layout.lyrics_conventions and changed.layout.section_gap == 6.0
    assert changed.layout.min_voiced_fraction == 0.5 and changed.asr_input == "blend"
    assert changed.vad.min_silence_at_max == 0.2 and not changed.asr.cpu_bf16_matmul
    assert not changed.asr.word_timestamps
    assert _cli_options("--pack-gap", "keep").vad.pack_gap is None
    assert _cli_options("--max-words-per-second", "off").asr.max_words_per_second is None
