"""`tui-trainer train` refuses data it cannot use before any training starts: exit 2 naming the key or file."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from tests.conftest import REPO_ROOT, SAMPLE_DATA
from tests.fuzz.corpus import png_declaring


def _train(config: Path, run_dir: Path, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "tui_trainer", "train", str(config), "--headless", "--run-dir", str(run_dir)],
        capture_output=True,
        text=True,
        env=env,
        cwd=REPO_ROOT,
        timeout=120,
        stdin=subprocess.DEVNULL,
    )


def test_images_kind_on_a_table_file_names_data_kind(tmp_path: Path, subprocess_env):
    config = tmp_path / "bad.toml"
    config.write_text(
        f'[data]\npath = "{SAMPLE_DATA / "penguins.csv"}"\nkind = "images"\nlabel = "species"\n'
        "[train]\nepochs = 1\n",
        encoding="utf-8",
    )
    result = _train(config, tmp_path / "run", subprocess_env)
    assert result.returncode == 2, result.stderr
    assert "data.kind" in result.stderr and "penguins.csv" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_decompression_bomb_in_the_image_folder_is_refused_from_its_header(tmp_path: Path, subprocess_env):
    folder = tmp_path / "digits"
    for label in ("0", "1"):
        shutil.copytree(SAMPLE_DATA / "digits" / label, folder / label)
    (folder / "1" / "bomb.png").write_bytes(png_declaring(60000, 60000))
    config = tmp_path / "bomb.toml"
    config.write_text(
        f'[data]\npath = "{folder}"\n[model]\nname = "cnn"\n[train]\nepochs = 1\n', encoding="utf-8"
    )
    result = _train(config, tmp_path / "run", subprocess_env)
    assert result.returncode == 2, result.stderr
    assert "bomb.png" in result.stderr and "--max-pixels" in result.stderr and "pixels" in result.stderr
    assert "Traceback" not in result.stderr and "DecompressionBombError" not in result.stderr
