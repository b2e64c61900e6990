"""`tui-trainer augment` as a user runs it: output names, exact single ops, seeds, and exit 2 on bad input."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests.conftest import SAMPLE_DATA


def _run(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "tui_trainer", "augment", *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture
def square(tmp_path: Path) -> tuple[Path, np.ndarray]:
    img = np.random.default_rng(7).integers(0, 256, (17, 17, 3), dtype=np.uint8)
    path = tmp_path / "photo.png"
    Image.fromarray(img).save(path)
    return path, img


def _load(path: Path) -> np.ndarray:
    return np.asarray(Image.open(path))


def test_exact_single_ops_match_numpy_references(square, tmp_path: Path, subprocess_env) -> None:
    path, img = square
    expected_shift = np.roll(img, 3, axis=1)
    expected_shift[:, :3] = img[:, :1]  # default fill mode nearest repeats the edge
    cases = {
        "rot": (["--rotate", "90"], np.rot90(img)),
        "h": (["--hflip"], np.flip(img, axis=1)),
        "v": (["--vflip"], np.flip(img, axis=0)),
        "sx": (["--shift-x", "3"], expected_shift),
        "sy": (["--shift-y", "-2", "--fill", "wrap"], np.roll(img, -2, axis=0)),
        "z": (["--zoom", "1"], img),
    }
    for name, (flags, expected) in cases.items():
        out = tmp_path / name
        res = _run([str(path), "--n", "2", "--out", str(out), *flags], subprocess_env, tmp_path)
        assert res.returncode == 0, res.stderr
        assert sorted(p.name for p in out.iterdir()) == ["photo-0.png", "photo-1.png"]
        for k in range(2):
            assert np.array_equal(_load(out / f"photo-{k}.png"), expected), name


def test_same_seed_identical_bytes_other_seed_different(square, tmp_path: Path, subprocess_env) -> None:
    path, _img = square
    flags = [
        "--rotation-range",
        "40",
        "--width-shift-range",
        "0.2",
        "--zoom-range",
        "0.2",
        "--horizontal-flip",
        "--n",
        "3",
    ]
    for name, seed in (("a", "1"), ("b", "1"), ("c", "2")):
        res = _run(
            [str(path), *flags, "--seed", seed, "--out", str(tmp_path / name)], subprocess_env, tmp_path
        )
        assert res.returncode == 0, res.stderr
    for k in range(3):
        a = (tmp_path / "a" / f"photo-{k}.png").read_bytes()
        assert a == (tmp_path / "b" / f"photo-{k}.png").read_bytes()
        assert a != (tmp_path / "c" / f"photo-{k}.png").read_bytes()
    # variants differ from each other, and variant k does not depend on --n
    assert (tmp_path / "a" / "photo-0.png").read_bytes() != (tmp_path / "a" / "photo-1.png").read_bytes()
    res = _run(
        [str(path), *flags[:-2], "--n", "1", "--seed", "1", "--out", str(tmp_path / "d")],
        subprocess_env,
        tmp_path,
    )
    assert (tmp_path / "d" / "photo-0.png").read_bytes() == (tmp_path / "a" / "photo-0.png").read_bytes()


def test_config_file_and_save_config(square, tmp_path: Path, subprocess_env) -> None:
    path, img = square
    cfg = tmp_path / "aug.toml"
    cfg.write_text("[image]\nrotate = 90\nhflip = true\n")
    res = _run(
        [
            str(path),
            "--config",
            str(cfg),
            "--n",
            "1",
            "--out",
            str(tmp_path / "o"),
            "--save-config",
            str(tmp_path / "eff.toml"),
        ],
        subprocess_env,
        tmp_path,
    )
    assert res.returncode == 0, res.stderr
    assert np.array_equal(_load(tmp_path / "o" / "photo-0.png"), np.flip(np.rot90(img), axis=1))
    assert "rotate = 90" in (tmp_path / "eff.toml").read_text()


def test_text_and_wav_outputs(tmp_path: Path, subprocess_env) -> None:
    txt = tmp_path / "notes.txt"
    txt.write_text("The quick brown fox jumps over the lazy dog.\n\nA big old house stood on the hill.\n")
    res = _run(
        [str(txt), "--random-swap", "1", "--n", "2", "--out", str(tmp_path / "t")], subprocess_env, tmp_path
    )
    assert res.returncode == 0, res.stderr
    out = (tmp_path / "t" / "notes-0.txt").read_text()
    assert out.count("\n") == 3 and out != txt.read_text()
    from scipy.io import wavfile

    wav = tmp_path / "tone.wav"
    tone = (0.3 * np.sin(2 * np.pi * 300 * np.arange(8001) / 8000) * 32767).astype(np.int16)
    wavfile.write(wav, 8000, tone)
    res = _run([str(wav), "--speed", "2", "--n", "1", "--out", str(tmp_path / "w")], subprocess_env, tmp_path)
    assert res.returncode == 0, res.stderr
    rate, data = wavfile.read(tmp_path / "w" / "tone-0.wav")
    _rate0, data0 = wavfile.read(wav)
    assert rate == _rate0 and len(data) == round(len(data0) / 2)


@pytest.mark.parametrize(
    ("make", "flags", "needle"),
    [
        (lambda d: d / "missing.png", [], "missing.png: no such file"),
        (lambda d: _write(d / "junk.png", b"not an image"), [], "junk.png: not a readable image"),
        (lambda d: _write(d / "bad.wav", b"RIFFxxxx"), [], "bad.wav: not a readable WAV"),
        (lambda d: _write(d / "latin.txt", b"caf\xe9\n"), [], "latin.txt: not UTF-8"),
        (lambda d: _png(d), ["--config", "{d}/nope.toml"], "nope.toml: augmentation config not found"),
        (lambda d: _png(d), ["--config", "{d}/unknown.toml"], "[image] spin: unknown op"),
        (lambda d: _png(d), ["--config", "{d}/broken.toml"], "broken.toml: not valid TOML"),
        (lambda d: _png(d), ["--rotate", "ninety"], "--rotate: expected a number"),
        (lambda d: _png(d), ["--zoom-range", "2"], "zoom_range"),
        (lambda d: _png(d), ["--n", "0"], "--n"),
    ],
)
def test_bad_input_exits_2_naming_it(make, flags, needle, tmp_path: Path, subprocess_env) -> None:
    (tmp_path / "unknown.toml").write_text("[image]\nspin = 3\n")
    (tmp_path / "broken.toml").write_text("[image\n")
    target = make(tmp_path)
    res = _run(
        [str(target), *[f.format(d=tmp_path) for f in flags], "--out", str(tmp_path / "o")],
        subprocess_env,
        tmp_path,
    )
    assert res.returncode == 2
    assert needle in res.stderr
    assert "Traceback" not in res.stderr
    assert not (tmp_path / "o").exists()


def test_unknown_fill_mode_flag_exits_2(tmp_path: Path, subprocess_env) -> None:
    res = _run([str(_png(tmp_path)), "--fill", "mirror"], subprocess_env, tmp_path)
    assert res.returncode == 2 and "--fill" in res.stderr


def test_never_overwrites_the_input(tmp_path: Path, subprocess_env) -> None:
    src = tmp_path / "y.png"
    Image.fromarray(np.arange(16, dtype=np.uint8).reshape(4, 4)).save(src)
    before = src.read_bytes()
    out = tmp_path / "sub"
    out.mkdir()
    (out / "y-0.png").symlink_to(src)  # the output name resolves to the input itself
    res = _run([str(src), "--n", "1", "--out", str(out), "--hflip"], subprocess_env, tmp_path)
    assert res.returncode == 2 and "refusing to overwrite the input" in res.stderr
    assert src.read_bytes() == before


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def _png(d: Path) -> Path:
    path = d / "ok.png"
    Image.fromarray(np.zeros((4, 4, 3), dtype=np.uint8)).save(path)
    return path


def test_grayscale_sample_digit_stays_grayscale_and_exact(tmp_path: Path, subprocess_env) -> None:
    digit = sorted((SAMPLE_DATA / "digits" / "3").glob("*.png"))[0]
    img = _load(digit)
    assert img.ndim == 2  # 8×8 mode L
    res = _run(
        [str(digit), "--rotate", "90", "--vflip", "--n", "1", "--out", str(tmp_path / "d")],
        subprocess_env,
        tmp_path,
    )
    assert res.returncode == 0, res.stderr
    out = _load(tmp_path / "d" / f"{digit.stem}-0.png")
    assert out.ndim == 2 and np.array_equal(out, np.flip(np.rot90(img), axis=0))


def _palette_png(path: Path) -> None:
    rgb = np.random.default_rng(3).integers(0, 256, (13, 13, 3), dtype=np.uint8)
    Image.fromarray(rgb).convert("P").save(path)


def _gray16_png(path: Path) -> None:
    Image.fromarray(np.random.default_rng(4).integers(0, 65536, (13, 13), dtype=np.uint16)).save(path)


def _la_png(path: Path) -> None:
    Image.fromarray(np.random.default_rng(5).integers(0, 256, (13, 13, 2), dtype=np.uint8), "LA").save(path)


@pytest.mark.parametrize(("make", "mode"), [(_palette_png, "P"), (_gray16_png, "I;16"), (_la_png, "LA")])
def test_other_png_modes_keep_their_mode_and_stay_exact(
    make, mode: str, tmp_path: Path, subprocess_env
) -> None:
    src = tmp_path / "m.png"
    make(src)
    img = _load(src)
    flags = ["--rotate", "90", "--hflip", "--shift-y", "2", "--fill", "wrap"]
    res = _run([str(src), *flags, "--n", "1", "--out", str(tmp_path / "o")], subprocess_env, tmp_path)
    assert res.returncode == 0, res.stderr
    out = Image.open(tmp_path / "o" / "m-0.png")
    assert out.mode == mode
    # rotate, then shift, then flip (flips come last, as in Keras)
    assert np.array_equal(np.asarray(out), np.flip(np.roll(np.rot90(img), 2, axis=0), axis=1))


def test_palette_image_under_a_real_rotation_becomes_rgb(tmp_path: Path, subprocess_env) -> None:
    src = tmp_path / "p.png"
    _palette_png(src)
    res = _run(
        [str(src), "--rotate", "30", "--n", "1", "--out", str(tmp_path / "o")], subprocess_env, tmp_path
    )
    assert res.returncode == 0, res.stderr
    assert Image.open(tmp_path / "o" / "p-0.png").mode == "RGB"
