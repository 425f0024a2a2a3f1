"""Where the music changes: candidate section breaks from the accompaniment.

Written lyrics put a blank line between verse and chorus, and singers rarely rest there: on
the dev songs most section boundaries fall on vocal gaps under half a second.  What does change
at a section boundary is the music under the voice -- the chords, the instruments, the beat.
So we measure it: a self-similarity matrix of the mix's timbre (MFCCs) and harmony (chroma),
and Foote's novelty, the correlation along its diagonal with a checkerboard kernel as long as a
short section (16 s: 8 bars at 120 bpm), whose peaks are the moments where what came before
stops resembling what comes after.  Peaks are kept at least :data:`MIN_SECTION_S` apart (a
section is rarely shorter than 4 bars).  The music also changes where the song starts or stops
repeating itself -- a chorus over the verse's chords -- so the novelty adds Serra et al.'s
structure features, the change in each moment's repetitions (:func:`repetition_novelty`): on
the dev songs that raised the share of reference section starts with a peak within 2.5 s from
46 % to 57 %, and the share of peaks near one from 43 % to 49 %.

A peak becomes a section break in the layout only at a line boundary near it (see
:func:`alt_cli.layout.sections.change_boundaries`): a 16-s kernel places the peak within a second or
two, and the change comes with the new section's first downbeat, after the pickup notes that
start its first line, so lines starting within :data:`PICKUP_S` either side are candidates.
"""

from __future__ import annotations

import numpy as np

HOP_S = 0.25  # feature frame; a section boundary is not placed finer than a beat anyway
KERNEL_S = 16.0  # the checkerboard's length: a short section, 8 bars at 120 bpm
MIN_SECTION_S = 10.0  # two changes closer than this are one (4 bars at ~100 bpm)
PEAK_REACH_S = 6.0  # a change is the strongest within this many seconds either side
PEAK_DELTA = 0.02  # how far above its neighbourhood's mean a peak must rise (novelty 0-1)
EDGE_S = 2.0  # the first and last seconds always "change" (the song starts / stops)
PICKUP_S = 2.0  # a new section's first line starts within this long of the change
# Repetition structure (see repetition_novelty): a moment is the last 2 s (a bar, give or
# take), linked to the 5 % of moments most like it (a passage recurs a handful of times),
# repetitions blurred over 4 s (two bars) so that a chance resemblance does not count.
REPEAT_CONTEXT_S = 2.0
REPEAT_NEIGHBOURS = 0.05
REPEAT_SMOOTH_S = 4.0
REPEAT_FLOOR = 0.25  # the weight of a texture change where the repetitions do not change
MAX_REPEAT_FRAMES = 1800  # the lag matrix's side: 1800^2 float32 = 13 MB, whatever the length


def structure_features(mix16k: np.ndarray, sample_rate: int = 16000,
                       hop_s: float = HOP_S) -> np.ndarray:
    """Per frame, unit-length MFCCs (timbre, without the loudness coefficient) and chroma."""
    import librosa

    hop = int(round(sample_rate * hop_s))
    power = np.abs(librosa.stft(mix16k.astype(np.float32), n_fft=2048, hop_length=hop)) ** 2
    mel = librosa.feature.melspectrogram(S=power, sr=sample_rate)
    mfcc = librosa.feature.mfcc(S=librosa.power_to_db(mel), n_mfcc=20)[1:]
    chroma = librosa.feature.chroma_stft(S=power, sr=sample_rate)
    stacked = np.vstack([librosa.util.normalize(mfcc, axis=0),
                         librosa.util.normalize(chroma, axis=0)])
    return librosa.util.normalize(stacked, axis=0)


def novelty_curve(features: np.ndarray, hop_s: float = HOP_S,
                  kernel_s: float = KERNEL_S) -> np.ndarray:
    """Foote's novelty of the self-similarity matrix, scaled to 0-1 (0 where nothing changes).

    Only the band of the matrix under the kernel is computed (a 2k x 2k block per frame), so an
    hour of audio needs kilobytes, not the gigabytes of the full matrix."""
    half = max(1, int(kernel_s / hop_s / 2))
    taper = np.hanning(2 * half)
    sign = np.ones((2 * half, 2 * half))
    sign[:half, half:] = sign[half:, :half] = -1
    kernel = np.outer(taper, taper) * sign
    frames = features.shape[1]
    padded = np.pad(features, ((0, 0), (half, half)))  # zero frames: similar to nothing
    novelty = np.empty(frames)
    for i in range(frames):
        block = padded[:, i : i + 2 * half]
        novelty[i] = float(((block.T @ block) * kernel).sum())
    novelty = np.maximum(novelty, 0.0)
    top = novelty.max() if frames else 0.0
    return novelty / top if top > 0 else novelty


def repetition_novelty(features: np.ndarray, hop_s: float = HOP_S) -> np.ndarray:
    """Where the song's pattern of repetitions changes (Serra et al.'s structure features),
    scaled to 0-1, one value per feature frame.

    Each moment (a short run of frames, :data:`REPEAT_CONTEXT_S`) is linked to the moments
    that sound most like it, its repetitions elsewhere in the song; in lag coordinates a
    passage sung twice is a horizontal line, blurred over :data:`REPEAT_SMOOTH_S` so that only
    repetitions lasting bars count.  A section boundary is where those lines start or stop: a
    chorus begins where the song starts repeating what it played before, even when the
    instruments stay the same (which Foote's novelty alone misses)."""
    import librosa
    from scipy.ndimage import gaussian_filter

    frames = features.shape[1]
    step = max(2, int(np.ceil(frames / MAX_REPEAT_FRAMES)))  # an hour stays a few MB
    coarse, coarse_hop = features[:, ::step], hop_s * step
    if coarse.shape[1] < 8:
        return np.zeros(frames)
    context = librosa.feature.stack_memory(coarse, n_steps=max(1, round(REPEAT_CONTEXT_S
                                                                       / coarse_hop)))
    neighbours = max(2, int(REPEAT_NEIGHBOURS * context.shape[1]))
    try:
        links = librosa.segment.recurrence_matrix(context, k=neighbours, sym=True,
                                                  mode="affinity")
    except librosa.util.exceptions.ParameterError:
        # Every moment identical to its neighbours (silence, a held tone, a loop of a few
        # exact copies): no distance to scale an affinity by, but plain links say the same.
        links = librosa.segment.recurrence_matrix(context, k=neighbours, sym=True,
                                                  mode="connectivity")
    lag = gaussian_filter(librosa.segment.recurrence_to_lag(links, pad=True).astype(np.float32),
                          sigma=(0.5, REPEAT_SMOOTH_S / coarse_hop))
    change = np.r_[0.0, np.linalg.norm(np.diff(lag, axis=1), axis=0)][: coarse.shape[1]]
    change = np.repeat(change, step)[:frames]
    top = change.max()
    return change / top if top > 0 else change


def structure_changes(mix16k: np.ndarray, sample_rate: int = 16000) -> list[float]:
    """Seconds where the music changes most: where the accompaniment's timbre and chords
    change (Foote) or the pattern of repetitions does (a chorus starting or ending)."""
    import librosa

    duration = len(mix16k) / sample_rate
    if duration < 2 * MIN_SECTION_S:
        return []
    features = structure_features(mix16k, sample_rate)
    # A change of texture counts, and up to five times more where the repetitions change
    # too; a product, not a sum, so that repetitions alone (random links in a steady piece
    # whose every moment is alike) never make a change.
    novelty = novelty_curve(features) * (REPEAT_FLOOR + repetition_novelty(features))
    novelty /= max(float(novelty.max()), 1e-9)
    reach = int(PEAK_REACH_S / HOP_S)
    average = int(KERNEL_S / 2 / HOP_S)
    peaks = librosa.util.peak_pick(novelty, pre_max=reach, post_max=reach, pre_avg=average,
                                   post_avg=average, delta=PEAK_DELTA,
                                   wait=int(MIN_SECTION_S / HOP_S))
    times = [float(p) * HOP_S for p in peaks]
    return [t for t in times if EDGE_S < t < duration - EDGE_S]
