"""Audio augmentation on float waveforms: gain, noise at an SNR, time shift, speed, pitch, time/frequency masks.

Waveforms are float32 arrays of shape (samples,) or (samples, channels) in [−1, 1]; WAV files are
read and written through scipy.io.wavfile (`read_wav`, `write_wav`). scipy is imported inside the
functions that need it, so importing this module stays cheap for the UI.
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tui_trainer.errors import UserError

Range = tuple[float, float]


@dataclass(frozen=True)
class AudioSpec:
    """Every random quantity is a closed range (lo == hi: exact value); None or zero-width off-ranges disable an op.

    gain_db: gain in dB. snr_db: add white noise at this signal-to-noise ratio (None: no noise).
    shift: time shift as a fraction of the length (positive delays; the exposed part is silent).
    speed: playback-rate factor by resampling (2 = twice as fast, half the length, an octave up).
    pitch: pitch shift in semitones, length kept (resample + phase-vocoder stretch back).
    time_mask: up to this fraction of the length zeroed in one random span (SpecAugment-style).
    freq_mask: up to this fraction of the spectrum (STFT bins) zeroed in one random band.
    """

    gain_db: Range = (0.0, 0.0)
    snr_db: Range | None = None
    shift: Range = (0.0, 0.0)
    speed: Range = (1.0, 1.0)
    pitch: Range = (0.0, 0.0)
    time_mask: float = 0.0
    freq_mask: float = 0.0


# Samples (frames × channels) an input WAV may hold: augmenting costs ~100 bytes a sample, so 16 M (six minutes
# of 44.1 kHz mono) stays under ~1.7 GB. The file is not read at all past 4 bytes a sample beyond the limit.
DEFAULT_MAX_SAMPLES = 16_000_000
MAX_SAMPLES_ENV = "TUI_TRAINER_MAX_AUDIO_SAMPLES"


def max_samples() -> int:
    import os

    raw = os.environ.get(MAX_SAMPLES_ENV, "").strip()
    if not raw:
        return DEFAULT_MAX_SAMPLES
    try:
        value = int(raw.replace("_", ""))
    except ValueError:
        value = 0
    if value < 1:
        raise UserError(f"${MAX_SAMPLES_ENV}: expected a whole number of samples ≥ 1, got {raw!r}")
    return value


def read_wav(path: Path) -> tuple[np.ndarray, int]:
    """Read a WAV file as float32 in [−1, 1]; raises UserError naming the file if it is not a readable WAV."""
    import struct
    import warnings

    from scipy.io import wavfile

    limit = max_samples()
    too_long = (
        f"{path}: longer than the limit of {limit:,} samples; raise it with ${MAX_SAMPLES_ENV}=N if the file "
        "is genuine, or cut it"
    )
    try:
        if Path(path).stat().st_size > 8 * limit + 4096:  # past even 64-bit samples: refused unread
            raise UserError(too_long)
    except OSError:
        pass  # the read below names what is wrong with the file
    try:
        with warnings.catch_warnings():
            # scipy warns about chunks it skips (LIST, fact, ...); they carry no samples.
            warnings.simplefilter("ignore", wavfile.WavFileWarning)
            rate, data = wavfile.read(str(path))
    except (ValueError, OSError, EOFError, struct.error, IndexError, MemoryError) as exc:
        reason = str(exc) or type(exc).__name__
        if isinstance(exc, struct.error):
            reason = "the file ends inside its header (truncated?)"
        raise UserError(f"{path}: not a readable WAV file ({reason}); expected a RIFF/WAVE file") from None
    if rate <= 0:
        raise UserError(
            f"{path}: the WAV header declares a sample rate of {rate} Hz; expected a positive rate"
        )
    if data.size == 0:
        raise UserError(f"{path}: the WAV file holds no samples; expected at least one")
    if data.size > limit:
        raise UserError(too_long)
    samples = to_float(data)
    bad = ~np.isfinite(samples)
    if bad.any():
        first = int(np.argmax(bad.reshape(samples.shape[0], -1).any(axis=1)))
        raise UserError(
            f"{path}: {int(bad.sum())} sample(s) are NaN or infinite (the first at sample {first}); "
            "expected finite float samples in [−1, 1]"
        )
    return samples, int(rate)


def to_float(data: np.ndarray) -> np.ndarray:
    if data.dtype == np.uint8:
        return (data.astype(np.float32) - 128.0) / 128.0
    if np.issubdtype(data.dtype, np.integer):
        return data.astype(np.float32) / float(-np.iinfo(data.dtype).min)
    return data.astype(np.float32)


def wav_bytes(samples: np.ndarray, rate: int) -> bytes:
    """16-bit PCM WAV bytes of a float waveform (clipped to [−1, 1])."""
    from scipy.io import wavfile

    finite = np.nan_to_num(np.asarray(samples, dtype=np.float64), nan=0.0, posinf=1.0, neginf=-1.0)
    pcm = np.clip(np.round(np.clip(finite, -1.0, 1.0) * 32767.0), -32768, 32767).astype(np.int16)
    buf = io.BytesIO()
    wavfile.write(buf, int(rate), pcm)
    return buf.getvalue()


def _uniform(rng: np.random.Generator, r: Range) -> float:
    return float(r[0]) if r[0] == r[1] else float(rng.uniform(r[0], r[1]))


def gain(x: np.ndarray, db: float) -> np.ndarray:
    return (x * np.float32(10.0 ** (db / 20.0))).astype(np.float32)


def add_noise(x: np.ndarray, snr_db: float, rng: np.random.Generator) -> np.ndarray:
    """Add white Gaussian noise scaled so that mean(x²) / mean(noise²) is exactly 10^(snr/10)."""
    noise = rng.standard_normal(x.shape).astype(np.float64)
    p_signal = float(np.mean(np.square(x, dtype=np.float64)))
    if p_signal == 0.0:
        return x.copy()
    p_noise = float(np.mean(noise**2))
    noise *= math.sqrt(p_signal / (p_noise * 10.0 ** (snr_db / 10.0)))
    return (x + noise).astype(np.float32)


def time_shift(x: np.ndarray, samples: int) -> np.ndarray:
    """Delay by `samples` (negative: advance); what is exposed is silence, the length is kept."""
    out = np.zeros_like(x)
    n = x.shape[0]
    if samples >= 0:
        out[samples:] = x[: n - samples] if samples < n else out[samples:]
    else:
        out[: n + samples] = x[-samples:]
    return out


def change_speed(x: np.ndarray, factor: float) -> np.ndarray:
    """Play `factor` times as fast by resampling: the length becomes round(n / factor), the pitch moves too."""
    if factor == 1.0:
        return x.copy()
    if factor <= 0:
        raise ValueError("speed factor must be positive")
    from scipy.signal import resample_poly

    n_out = max(1, int(round(x.shape[0] / factor)))
    frac = _ratio(factor)
    y = resample_poly(x, frac[1], frac[0], axis=0)
    if y.shape[0] < n_out:
        pad = [(0, n_out - y.shape[0])] + [(0, 0)] * (x.ndim - 1)
        y = np.pad(y, pad)
    return y[:n_out].astype(np.float32)


def _ratio(factor: float) -> tuple[int, int]:
    from fractions import Fraction

    f = Fraction(factor).limit_denominator(200)
    return f.numerator, f.denominator


MIN_FFT = 16  # signals shorter than this are left as they are by pitch shift and frequency masking


def _fft_size(n: int, wanted: int) -> int:
    """The largest power of two ≤ min(n, wanted), so short clips still get a valid STFT."""
    size = 1 << (max(1, min(n, wanted)).bit_length() - 1)
    return max(size, 1)


STRETCH_BLOCK = (
    1024  # output frames synthesised at a time: memory stays O(block × bins), not O(frames × bins)
)


def _stretch(x: np.ndarray, rate: float, n_fft: int = 1024) -> np.ndarray:
    """Phase-vocoder time stretch of a mono signal: `rate` > 1 shortens it, the pitch stays.

    Frames are analysed and synthesised in blocks of `STRETCH_BLOCK`, the running phase carried from block
    to block, so a ten-minute clip costs a few arrays of its own length instead of several GB of spectra.
    """
    n_fft = _fft_size(len(x), n_fft)
    hop = n_fft // 4
    window = np.hanning(n_fft)
    pad = np.pad(x.astype(np.float64), (n_fft, n_fft))
    frames = 1 + (len(pad) - n_fft) // hop
    steps = np.arange(0, frames - 1, rate)
    expected = 2 * np.pi * hop * np.arange(n_fft // 2 + 1) / n_fft
    out = np.zeros(len(steps) * hop + n_fft)
    norm = np.zeros_like(out)
    offsets = np.arange(n_fft)

    def spectrum(frame_index: np.ndarray) -> np.ndarray:
        return np.fft.rfft(window * pad[offsets[None, :] + hop * frame_index[:, None]], axis=1)

    phase_acc = np.angle(spectrum(np.array([0]))[0])  # the phase of the step about to be synthesised
    for start in range(0, len(steps), STRETCH_BLOCK):
        block = steps[start : start + STRETCH_BLOCK]
        i = block.astype(int)
        first = int(i[0])
        spec = spectrum(np.arange(first, int(i[-1]) + 2))  # the frames this block reads, and one after
        a, b = spec[i - first], spec[i - first + 1]
        frac = (block - i)[:, None]
        mag = (1 - frac) * np.abs(a) + frac * np.abs(b)
        # Phase advances by the bin's expected rotation plus the measured deviation, accumulated over steps.
        delta = np.angle(b) - np.angle(a) - expected
        delta -= 2 * np.pi * np.round(delta / (2 * np.pi))
        advance = np.cumsum(expected + delta, axis=0)
        phase = phase_acc + np.vstack([np.zeros((1, advance.shape[1])), advance[:-1]])
        phase_acc = phase_acc + advance[-1]
        synth = np.fft.irfft(mag * np.exp(1j * phase), n_fft, axis=1) * window
        for k in range(len(block)):
            at = (start + k) * hop
            out[at : at + n_fft] += synth[k]
            norm[at : at + n_fft] += window**2
    out = out / np.where(norm > 1e-8, norm, 1.0)
    return out[n_fft:].astype(np.float32)


def pitch_shift(x: np.ndarray, semitones: float) -> np.ndarray:
    """Shift the pitch by `semitones` keeping the length: speed change, then stretch back to the original length."""
    if semitones == 0.0 or x.shape[0] < MIN_FFT:
        return x.copy()
    factor = 2.0 ** (semitones / 12.0)
    n = x.shape[0]
    chans = x[:, None] if x.ndim == 1 else x
    outs = []
    for c in range(chans.shape[1]):
        stretched = _stretch(chans[:, c], 1.0 / factor)  # longer by `factor`, same pitch
        y = change_speed(stretched, factor)  # back to about n samples, pitch × factor
        y = np.pad(y, (0, max(0, n - len(y))))[:n]
        outs.append(y)
    out = np.stack(outs, axis=1)
    return out[:, 0] if x.ndim == 1 else out


def time_mask(x: np.ndarray, start: int, length: int) -> np.ndarray:
    out = x.copy()
    out[start : start + length] = 0.0
    return out


def freq_mask(x: np.ndarray, rate: int, lo_bin: int, width: int, n_fft: int = 512) -> np.ndarray:
    """Zero STFT bins [lo_bin, lo_bin + width) and resynthesise; the length is kept."""
    from scipy.signal import istft, stft

    if x.shape[0] < MIN_FFT:
        return x.copy()
    n_fft = _fft_size(x.shape[0], n_fft)
    chans = x[:, None] if x.ndim == 1 else x
    outs = []
    for c in range(chans.shape[1]):
        _f, _t, z = stft(chans[:, c], fs=rate, nperseg=n_fft)
        z[lo_bin : lo_bin + width] = 0
        _t2, y = istft(z, fs=rate, nperseg=n_fft)
        y = np.pad(y, (0, max(0, x.shape[0] - len(y))))[: x.shape[0]]
        outs.append(y.astype(np.float32))
    out = np.stack(outs, axis=1)
    return out[:, 0] if x.ndim == 1 else out


def augment_audio(x: np.ndarray, rate: int, spec: AudioSpec, rng: np.random.Generator) -> np.ndarray:
    """Apply, in order: speed, pitch, time shift, gain, time mask, frequency mask, noise (noise last, so the SNR holds)."""
    y = np.asarray(x, dtype=np.float32)
    y = change_speed(y, _uniform(rng, spec.speed))
    y = pitch_shift(y, _uniform(rng, spec.pitch))
    shift = int(round(_uniform(rng, spec.shift) * y.shape[0]))
    if shift:
        y = time_shift(y, shift)
    db = _uniform(rng, spec.gain_db)
    if db:
        y = gain(y, db)
    if spec.time_mask > 0:
        length = int(rng.integers(0, int(spec.time_mask * y.shape[0]) + 1))
        y = time_mask(y, int(rng.integers(0, max(1, y.shape[0] - length + 1))), length)
    if spec.freq_mask > 0:
        bins = _fft_size(y.shape[0], 512) // 2 + 1
        width = int(rng.integers(0, int(spec.freq_mask * bins) + 1))
        y = freq_mask(y, rate, int(rng.integers(0, bins - width + 1)), width)
    if spec.snr_db is not None:
        y = add_noise(y, _uniform(rng, spec.snr_db), rng)
    return y


def spectrogram_db(x: np.ndarray, rate: int, n_fft: int = 256) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(frequencies, times, power in dB) of the mono mix, via scipy.signal.spectrogram; for the preview."""
    from scipy.signal import spectrogram

    mono = x if x.ndim == 1 else x.mean(axis=1)
    nper = min(n_fft, max(8, len(mono)))
    f, t, s = spectrogram(mono, fs=rate, nperseg=nper, noverlap=nper // 2)
    return f, t, 10.0 * np.log10(s + 1e-12)
