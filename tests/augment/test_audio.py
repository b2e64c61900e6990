"""Audio ops: speed by resampling, measured SNR, shifts, masks and pitch."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tui_trainer.augment.audio import (
    AudioSpec,
    add_noise,
    augment_audio,
    change_speed,
    freq_mask,
    gain,
    pitch_shift,
    read_wav,
    spectrogram_db,
    time_mask,
    time_shift,
    wav_bytes,
)
from tui_trainer.errors import UserError

RATE = 8000


def _tone(freq: float = 440.0, seconds: float = 0.5) -> np.ndarray:
    t = np.arange(int(RATE * seconds)) / RATE
    return (0.5 * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def _peak_hz(x: np.ndarray) -> float:
    spec = np.abs(np.fft.rfft(x * np.hanning(len(x))))
    return float(np.fft.rfftfreq(len(x), 1 / RATE)[np.argmax(spec)])


@pytest.mark.parametrize("n", [4000, 4001, 999])
def test_speed_two_halves_the_length_and_doubles_the_pitch(n: int) -> None:
    x = _tone()[:n]
    y = change_speed(x, 2.0)
    assert len(y) == round(n / 2)
    if n == 4000:
        assert abs(_peak_hz(y) - 880) < 20


def test_speed_half_doubles_the_length() -> None:
    assert len(change_speed(_tone(), 0.5)) == 8000


@pytest.mark.parametrize("snr", [0.0, 10.0, 25.0])
def test_noise_is_added_at_the_requested_snr(snr: float) -> None:
    x = _tone()
    y = add_noise(x, snr, np.random.default_rng(0))
    noise = (y - x).astype(np.float64)
    measured = 10 * np.log10(np.mean(x.astype(np.float64) ** 2) / np.mean(noise**2))
    assert abs(measured - snr) < 0.01


def test_gain_in_db() -> None:
    assert np.allclose(gain(_tone(), 20.0), _tone() * 10.0)


def test_time_shift_delays_and_silences_the_start() -> None:
    x = _tone()
    y = time_shift(x, 100)
    assert np.array_equal(y[100:], x[:-100]) and np.all(y[:100] == 0)
    z = time_shift(x, -100)
    assert np.array_equal(z[:-100], x[100:]) and np.all(z[-100:] == 0)


def test_time_mask_zeroes_a_span() -> None:
    y = time_mask(_tone(), 50, 30)
    assert np.all(y[50:80] == 0) and np.array_equal(y[:50], _tone()[:50])


def test_freq_mask_removes_the_masked_band() -> None:
    x = _tone(1000) + _tone(3000)
    # bins of a 512-point STFT at 8 kHz are 15.6 Hz wide: 3000 Hz is bin 192
    y = freq_mask(x, RATE, 180, 30)
    spec = np.abs(np.fft.rfft(y))
    f = np.fft.rfftfreq(len(y), 1 / RATE)
    assert spec[np.argmin(abs(f - 3000))] < 0.05 * spec[np.argmin(abs(f - 1000))]
    assert len(y) == len(x)


def test_pitch_shift_keeps_length_and_moves_the_peak_an_octave() -> None:
    x = _tone(400, 1.0)
    y = pitch_shift(x, 12.0)
    assert len(y) == len(x)
    assert abs(_peak_hz(y) - 800) < 20


def test_augment_audio_is_seeded() -> None:
    spec = AudioSpec(gain_db=(-6, 6), snr_db=(10, 20), shift=(-0.1, 0.1), speed=(0.9, 1.1), time_mask=0.1)
    a = augment_audio(_tone(), RATE, spec, np.random.default_rng(1))
    b = augment_audio(_tone(), RATE, spec, np.random.default_rng(1))
    c = augment_audio(_tone(), RATE, spec, np.random.default_rng(2))
    assert np.array_equal(a, b) and not (len(a) == len(c) and np.array_equal(a, c))


def test_wav_round_trip_and_unreadable_file(tmp_path: Path) -> None:
    path = tmp_path / "t.wav"
    path.write_bytes(wav_bytes(_tone(), RATE))
    x, rate = read_wav(path)
    assert rate == RATE and np.abs(x - _tone()).max() < 1e-4
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"RIFF not really")
    with pytest.raises(UserError, match="bad.wav"):
        read_wav(bad)


def test_spectrogram_peaks_at_the_tone() -> None:
    f, _t, db = spectrogram_db(_tone(1000), RATE)
    assert abs(f[np.argmax(db.mean(axis=1))] - 1000) < 40


@pytest.mark.parametrize("n", [1, 3, 15, 16, 100, 700])
def test_every_op_survives_very_short_clips(n: int) -> None:
    x = np.random.default_rng(0).standard_normal(n).astype(np.float32) * 0.1
    spec = AudioSpec(
        gain_db=(-3, 3),
        snr_db=(10, 10),
        shift=(-0.2, 0.2),
        speed=(1.5, 1.5),
        pitch=(2, 2),
        time_mask=0.2,
        freq_mask=0.2,
    )
    y = augment_audio(x, RATE, spec, np.random.default_rng(1))
    assert len(y) == max(1, round(n / 1.5)) and np.isfinite(y).all()
