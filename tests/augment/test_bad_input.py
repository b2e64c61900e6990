"""`tui-trainer augment` on hostile and broken inputs: exit 2 naming the file or flag and the expected form."""

from __future__ import annotations

import struct
import tracemalloc
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from scipy.io import wavfile

from tui_trainer.augment import media
from tui_trainer.cli import main


def _png_header(width: int, height: int, idat: bytes) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


def _bomb(path: Path, side: int) -> Path:
    """A small PNG declaring side×side grey pixels (rows of zeros compress ~1000:1)."""
    comp = zlib.compressobj(9)
    row = b"\x00" * (side + 1)
    data = b"".join(comp.compress(row) for _ in range(side)) + comp.flush()
    path.write_bytes(_png_header(side, side, data))
    return path


def _augment(capsys, *args: str) -> tuple[int, str]:
    code = main(["augment", *args])
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return code, err


@pytest.fixture
def out(tmp_path: Path) -> str:
    return str(tmp_path / "out")


def test_pixel_bomb_is_refused_from_the_header_before_decoding(tmp_path, capsys, out):
    bomb = _bomb(tmp_path / "bomb.png", 12000)  # 144 Mpx in ~140 KB: 16 GB once decoded and augmented
    assert bomb.stat().st_size < 200_000
    code, err = _augment(capsys, str(bomb), "--out", out)
    assert code == 2
    assert "bomb.png" in err and "12000×12000" in err and "--max-pixels" in err
    assert not Path(out).exists()


def test_header_past_pillows_own_bomb_limit_is_our_message_not_a_traceback(tmp_path, capsys, out):
    huge = tmp_path / "huge.png"
    huge.write_bytes(_png_header(60000, 60000, zlib.compress(b"\x00" * 100)))
    code, err = _augment(capsys, str(huge), "--out", out)
    assert code == 2
    assert "huge.png" in err and "3,600,000,000 pixels" in err and "DecompressionBomb" not in err


def test_pixel_limit_comes_from_the_flag_then_the_environment(tmp_path, capsys, monkeypatch, out):
    path = tmp_path / "small.png"
    Image.fromarray(np.zeros((40, 50, 3), np.uint8)).save(path)
    code, err = _augment(capsys, str(path), "--out", out, "--n", "1", "--max-pixels", "1999")
    assert code == 2 and "50×40 = 2,000 pixels" in err and "1,999" in err
    assert _augment(capsys, str(path), "--out", out, "--n", "1", "--max-pixels", "2000")[0] == 0
    monkeypatch.setenv(media.MAX_PIXELS_ENV, "1000")
    code, err = _augment(capsys, str(path), "--out", out, "--n", "1")
    assert code == 2 and "over the limit of 1,000" in err
    monkeypatch.setenv(media.MAX_PIXELS_ENV, "lots")
    code, err = _augment(capsys, str(path), "--out", out, "--n", "1")
    assert code == 2 and media.MAX_PIXELS_ENV in err and "'lots'" in err


def test_a_large_genuine_image_stays_in_bounded_memory(tmp_path):
    """Banded resampling: a 3000×3000 RGB warp costs about its float copies, not ~150 bytes a pixel."""
    from tui_trainer.augment.image import ImageSpec, augment_numpy

    img = np.random.default_rng(0).integers(0, 256, (3000, 3000, 3), dtype=np.uint8)
    spec = ImageSpec(rotation=(17.0, 17.0), zoom_x=(1.3, 1.3), zoom_y=(1.3, 1.3))
    tracemalloc.start()  # numpy reports its buffers to tracemalloc
    try:
        result = augment_numpy(img, spec, np.random.default_rng(0))
        grown_mb = tracemalloc.get_traced_memory()[1] / 2**20
    finally:
        tracemalloc.stop()
    assert result.shape == img.shape and result.dtype == np.uint8
    assert grown_mb < 600  # 9 Mpx: two float32 copies are 216 MB; unbanded it was ~1.3 GB


def _wav(tmp_path: Path) -> Path:
    path = tmp_path / "tone.wav"
    wavfile.write(path, 8000, (np.sin(np.arange(4000) / 5) * 10000).astype(np.int16))
    return path


@pytest.mark.parametrize("size", [0, 4, 12, 30, 43])
def test_truncated_wav_exits_2_naming_it(tmp_path, capsys, out, size):
    cut = tmp_path / f"cut{size}.wav"
    cut.write_bytes(_wav(tmp_path).read_bytes()[:size])
    code, err = _augment(capsys, str(cut), "--out", out)
    assert code == 2
    assert f"cut{size}.wav" in err and "WAV" in err


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_float_wav_is_refused_not_written_as_garbage(tmp_path, capsys, out, bad):
    samples = np.sin(np.arange(2000) / 7).astype(np.float32)
    samples[123] = bad
    path = tmp_path / "float.wav"
    wavfile.write(path, 8000, samples)
    code, err = _augment(capsys, str(path), "--out", out)
    assert code == 2
    assert "float.wav" in err and "NaN or infinite" in err and "sample 123" in err
    assert not Path(out).exists()


def test_pcm_writer_never_emits_garbage_for_non_finite_values():
    import io

    from tui_trainer.augment.audio import wav_bytes

    rate, pcm = wavfile.read(io.BytesIO(wav_bytes(np.array([np.nan, np.inf, -np.inf, 0.5]), 8000)))
    assert pcm.tolist() == [0, 32767, -32767, 16384]


def test_empty_and_blank_text_files_say_so(tmp_path, capsys, out):
    for name, body in (("empty.txt", ""), ("blank.txt", "\n  \n\n")):
        path = tmp_path / name
        path.write_text(body)
        code, err = _augment(capsys, str(path), "--out", out)
        assert code == 2 and name in err and "no text" in err
    assert not Path(out).exists()


def test_csv_with_a_blank_first_line_finds_its_header(tmp_path, capsys, out):
    path = tmp_path / "reviews.csv"
    path.write_text("\ntext,label\nthe film was good,1\nthe plot was thin,0\n")
    code, _err = _augment(capsys, str(path), "--out", out, "--n", "1", "--random-swap", "1")
    assert code == 0
    lines = (Path(out) / "reviews-0.csv").read_text().splitlines()
    assert lines[0] == "text,label" and [line.rsplit(",", 1)[1] for line in lines[1:]] == ["1", "0"]


def test_csv_with_a_field_past_pythons_128k_default_is_augmented(tmp_path, capsys, out):
    path = tmp_path / "long.csv"
    long_text = " ".join(["word"] * 40_000)  # 200 KB in one field
    path.write_text(f"text,label\n{long_text},1\n")
    code, _err = _augment(capsys, str(path), "--out", out, "--n", "1", "--random-deletion", "1")
    assert code == 0
    body = (Path(out) / "long-0.csv").read_text()
    assert body.startswith("text,label\n") and body.rstrip().endswith(",1")
    assert body.count("word") == 40_000 - 1


def test_csv_without_any_text_is_named(tmp_path, capsys, out):
    path = tmp_path / "header_only.csv"
    path.write_text("text,label\n")
    code, err = _augment(capsys, str(path), "--out", out)
    assert code == 2 and "header_only.csv" in err and "'text'" in err


@pytest.mark.parametrize(
    ("flag", "value", "expected"),
    [
        ("--seed", "-1", "from 0 to 2**63 - 1"),
        ("--seed", str(2**64), "from 0 to 2**63 - 1"),
        ("--hue", "5", "≤ 0.5"),
        ("--hue", "-0.6,0.1", "≥ -0.5"),
        ("--shift-x", "1e30", "≤ 1e+06"),
        ("--zoom", "1e-30", "≥ 0.01"),
        ("--zoom-range", "0.5,1e30", "≤ 100"),
        ("--shear", "90", "≤ 89"),
        ("--rotate", "nan", "a number"),
        ("--gain-db", "1e30", "≤ 120"),
        ("--max-pixels", "0", "≥ 1"),
    ],
)
def test_out_of_range_flags_exit_2_naming_the_flag(tmp_path, capsys, out, flag, value, expected):
    path = tmp_path / "img.png"
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(path)
    code, err = _augment(capsys, str(path), "--out", out, f"{flag}={value}")
    assert code == 2
    assert flag in err and expected in err
    assert not Path(out).exists()


def test_in_range_extremes_write_without_numpy_warnings(tmp_path, capsys, out):
    path = tmp_path / "img.png"
    Image.fromarray(np.full((8, 8, 3), 200, np.uint8)).save(path)
    code, err = _augment(
        capsys, str(path), "--out", out, "--n", "1", "--shift-x", "1e6", "--zoom", "0.01", "--shear", "89"
    )
    assert code == 0 and "Warning" not in err
    assert np.asarray(Image.open(Path(out) / "img-0.png")).shape == (8, 8, 3)


def test_out_that_is_a_file_and_save_config_that_is_a_folder(tmp_path, capsys):
    path = tmp_path / "img.png"
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(path)
    a_file = tmp_path / "notes.txt"
    a_file.write_text("keep")
    code, err = _augment(capsys, str(path), "--out", str(a_file))
    assert code == 2 and "--out" in err and "notes.txt" in err and "folder" in err
    assert a_file.read_text() == "keep"
    folder = tmp_path / "configs"
    folder.mkdir()
    code, err = _augment(capsys, str(path), "--out", str(tmp_path / "o"), "--save-config", str(folder))
    assert code == 2 and "--save-config" in err and "configs" in err and "file path" in err
    assert list(folder.iterdir()) == []


def test_long_wav_is_refused_past_the_sample_limit(tmp_path, capsys, monkeypatch, out):
    from tui_trainer.augment import audio

    path = tmp_path / "speech.wav"
    wavfile.write(path, 8000, np.zeros(50_000, np.int16))
    monkeypatch.setenv(audio.MAX_SAMPLES_ENV, "40000")
    code, err = _augment(capsys, str(path), "--out", out)
    assert code == 2 and "speech.wav" in err and "40,000 samples" in err and audio.MAX_SAMPLES_ENV in err
    monkeypatch.setenv(audio.MAX_SAMPLES_ENV, "1000")  # so small that the file size alone refuses it, unread
    code, err = _augment(capsys, str(path), "--out", out)
    assert code == 2 and "1,000 samples" in err
    monkeypatch.setenv(audio.MAX_SAMPLES_ENV, "60000")
    assert _augment(capsys, str(path), "--out", out, "--n", "1", "--gain-db", "3")[0] == 0


def test_phase_vocoder_memory_stays_bounded_on_a_long_clip():
    """Blockwise stretch: a 20 s clip's spectra never exist all at once (was ~10 MB a second of audio)."""
    from tui_trainer.augment.audio import pitch_shift

    x = np.sin(np.arange(20 * 22050) / 9.0).astype(np.float32)
    tracemalloc.start()
    try:
        y = pitch_shift(x, 2.0)
        peak_mb = tracemalloc.get_traced_memory()[1] / 2**20
    finally:
        tracemalloc.stop()
    assert y.shape == x.shape and np.isfinite(y).all()
    assert peak_mb < 80  # 441,000 samples: unblocked spectra alone were ~110 MB


def test_float_tiff_with_nan_and_inf_pixels_writes_them_black_without_warnings(tmp_path, capsys, out):
    pixels = np.linspace(0, 1, 64, dtype=np.float32).reshape(8, 8)
    pixels[0, 0], pixels[1, 1] = np.nan, np.inf
    Image.fromarray(pixels, mode="F").save(tmp_path / "depth.tif")
    code, err = _augment(capsys, str(tmp_path / "depth.tif"), "--out", out, "--n", "1", "--hflip")
    assert code == 0 and "Warning" not in err
    got = np.asarray(Image.open(Path(out) / "depth-0.png"))
    assert got[0, 7] == 0 and got[1, 6] == 0 and got[7, 0] == 255  # flipped: NaN/inf black, the max white


def test_text_past_the_size_limit_is_refused_unread(tmp_path, capsys, monkeypatch, out):
    monkeypatch.setattr(media, "MAX_TEXT_BYTES", 1000)
    path = tmp_path / "book.txt"
    path.write_text("a line of text\n" * 100)
    code, err = _augment(capsys, str(path), "--out", out)
    assert code == 2 and "book.txt" in err and "larger than" in err
