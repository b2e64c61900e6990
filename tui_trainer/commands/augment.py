"""`tui-trainer augment`: write N augmented variants of an image, text or WAV file for inspection."""

from __future__ import annotations

import argparse

HELP = "Write augmented variants of an image, text or WAV file."
DESCRIPTION = """Write N augmented variants of INPUT as DIR/<stem>-<k>.<ext> (k = 0..N-1): PNG for
images, .txt for text (each line one example, each paragraph in hard-wrapped prose; a .csv stays .csv
with one column augmented and the label column kept), .wav for audio. Variant k depends only on (--seed, k), so --n 4 gives the first
four files of --n 8. The pipeline comes from --config (TOML, sections [image] [text] [audio]); flags
override its keys. Without --config and without op flags the default pipeline is used.

Single-value image flags apply exactly that value: --rotate DEG (counter-clockwise), --shift-x PX
(right), --shift-y PX (down), --zoom F (2 = twice as large), --shear DEG, --hflip, --vflip, --fill.
Keras-named flags draw at random the way ImageDataGenerator does: --rotation-range 40 is uniform in
[-40, 40] degrees; --width-shift-range < 1 is a fraction of the width, >= 1 pixels; --zoom-range z
is [1-z, 1+z]; --horizontal-flip flips half the images. RANGE values are a number (exact) or LO,HI.

exit codes: 0 written; 2 bad input (missing/unreadable/empty file, an image over --max-pixels, a bad flag
value, unknown op, malformed config, an --out that is a file)."""


# flag dest → (section, key, kind); kind "range" values are parsed from "X" or "LO,HI".
FLAG_KEYS: dict[str, tuple[str, str, str]] = {
    "rotate": ("image", "rotate", "num"),
    "shift_x": ("image", "shift_x", "num"),
    "shift_y": ("image", "shift_y", "num"),
    "zoom": ("image", "zoom", "num"),
    "zoom_x": ("image", "zoom_x", "num"),
    "zoom_y": ("image", "zoom_y", "num"),
    "shear": ("image", "shear", "num"),
    "hflip": ("image", "hflip", "flag"),
    "vflip": ("image", "vflip", "flag"),
    "fill": ("image", "fill_mode", "str"),
    "cval": ("image", "cval", "num"),
    "interpolation": ("image", "interpolation", "str"),
    "rotation_range": ("image", "rotation_range", "num"),
    "width_shift_range": ("image", "width_shift_range", "shift"),
    "height_shift_range": ("image", "height_shift_range", "shift"),
    "shear_range": ("image", "shear_range", "num"),
    "zoom_range": ("image", "zoom_range", "range"),
    "horizontal_flip": ("image", "horizontal_flip", "flag"),
    "vertical_flip": ("image", "vertical_flip", "flag"),
    "brightness": ("image", "brightness", "range"),
    "contrast": ("image", "contrast", "range"),
    "saturation": ("image", "saturation", "range"),
    "hue": ("image", "hue", "range"),
    "noise_std": ("image", "noise_std", "range"),
    "blur_sigma": ("image", "blur_sigma", "range"),
    "crop_scale": ("image", "crop_scale", "range"),
    "erase_p": ("image", "erase_p", "num"),
    "synonym_replacement": ("text", "synonym_replacement", "int"),
    "random_insertion": ("text", "random_insertion", "int"),
    "random_swap": ("text", "random_swap", "int"),
    "random_deletion": ("text", "random_deletion", "int"),
    "typos": ("text", "typos", "int"),
    "labelled": ("text", "labelled", "flag"),
    "gain_db": ("audio", "gain_db", "range"),
    "snr_db": ("audio", "snr_db", "range"),
    "time_shift": ("audio", "shift", "range"),
    "speed": ("audio", "speed", "range"),
    "pitch": ("audio", "pitch", "range"),
    "time_mask": ("audio", "time_mask", "num"),
    "freq_mask": ("audio", "freq_mask", "num"),
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "input", metavar="INPUT", help="an image (PNG/JPEG/...), a text file (.txt, .csv) or a WAV file"
    )
    parser.add_argument(
        "--config", metavar="FILE", help="pipeline TOML ([image] [text] [audio]); flags override its keys"
    )
    parser.add_argument(
        "--n", type=int, default=8, metavar="N", help="number of variants to write (default 8)"
    )
    parser.add_argument(
        "--seed", type=int, default=0, metavar="S", help="random seed (default 0); same seed, same files"
    )
    parser.add_argument(
        "--out", metavar="DIR", default="augmented", help="output directory (default ./augmented)"
    )
    parser.add_argument("--save-config", metavar="FILE", help="also write the effective pipeline as TOML")
    parser.add_argument(
        "--max-pixels",
        type=int,
        metavar="N",
        help="refuse an image declaring more than N pixels, checked before decoding "
        "(default 40000000, or $TUI_TRAINER_MAX_IMAGE_PIXELS)",
    )
    g = parser.add_argument_group("image: exact values")
    g.add_argument("--rotate", metavar="DEG", help="rotate counter-clockwise by DEG about the centre")
    g.add_argument("--shift-x", metavar="PX", help="move content right by PX pixels (negative: left)")
    g.add_argument("--shift-y", metavar="PX", help="move content down by PX pixels (negative: up)")
    g.add_argument("--zoom", metavar="F", help="magnify by F (2 = twice as large, 0.5 = half; 1 = unchanged)")
    g.add_argument("--zoom-x", metavar="F", help="magnify horizontally by F")
    g.add_argument("--zoom-y", metavar="F", help="magnify vertically by F")
    g.add_argument("--shear", metavar="DEG", help="horizontal shear by DEG (rows below the centre move left)")
    g.add_argument("--hflip", action="store_true", default=None, help="mirror left-right")
    g.add_argument("--vflip", action="store_true", default=None, help="mirror top-bottom")
    g.add_argument(
        "--fill",
        "--fill-mode",
        dest="fill",
        choices=("nearest", "constant", "reflect", "wrap"),
        help="what fills exposed pixels (Keras' fill_mode; default nearest)",
    )
    g.add_argument(
        "--cval", metavar="V", help="fill value for --fill constant (0-255 for 8-bit images; default 0)"
    )
    g.add_argument("--interpolation", choices=("bilinear", "nearest"), help="sampling (default bilinear)")
    g = parser.add_argument_group("image: Keras ImageDataGenerator ranges")
    g.add_argument("--rotation-range", metavar="DEG", help="uniform rotation in [-DEG, DEG]")
    g.add_argument(
        "--width-shift-range",
        metavar="W",
        help="< 1: fraction of the width; >= 1: pixels; integer: whole pixels",
    )
    g.add_argument("--height-shift-range", metavar="H", help="as --width-shift-range, vertically")
    g.add_argument("--shear-range", metavar="DEG", help="uniform shear in [-DEG, DEG]")
    g.add_argument(
        "--zoom-range",
        metavar="RANGE",
        help="z: coordinate scale in [1-z, 1+z] (Keras; < 1 zooms in); or LO,HI",
    )
    g.add_argument(
        "--horizontal-flip", action="store_true", default=None, help="flip left-right half the time"
    )
    g.add_argument("--vertical-flip", action="store_true", default=None, help="flip top-bottom half the time")
    g = parser.add_argument_group("image: more ops (RANGE = X or LO,HI)")
    g.add_argument("--brightness", metavar="RANGE", help="brightness factor (1 = unchanged)")
    g.add_argument("--contrast", metavar="RANGE", help="contrast factor (1 = unchanged)")
    g.add_argument("--saturation", metavar="RANGE", help="saturation factor (1 = unchanged)")
    g.add_argument("--hue", metavar="RANGE", help="hue offset in turns (-0.5..0.5)")
    g.add_argument("--noise-std", metavar="RANGE", help="Gaussian noise std on the 0-1 scale")
    g.add_argument("--blur-sigma", metavar="RANGE", help="Gaussian blur sigma in pixels")
    g.add_argument("--crop-scale", metavar="RANGE", help="random crop of this area fraction, resized back")
    g.add_argument("--erase-p", metavar="P", help="probability of random erasing")
    g = parser.add_argument_group("text (.txt: each line is one example)")
    g.add_argument("--synonym-replacement", metavar="N", help="replace N words by WordNet synonyms")
    g.add_argument("--random-insertion", metavar="N", help="insert N synonyms of words at random places")
    g.add_argument("--random-swap", metavar="N", help="swap N pairs of words")
    g.add_argument("--random-deletion", metavar="N", help="delete N words")
    g.add_argument("--typos", metavar="N", help="put a keyboard typo into N words")
    g.add_argument(
        "--labelled", action="store_true", default=None, help="lines are LABEL<TAB>TEXT; labels are kept"
    )
    g.add_argument(
        "--text-column",
        metavar="NAME",
        help="for .csv input: the column to augment (default `text`, else the first); other columns are kept",
    )
    g = parser.add_argument_group("audio (.wav)")
    g.add_argument("--gain-db", metavar="RANGE", help="gain in dB")
    g.add_argument("--snr-db", metavar="RANGE", help="add white noise at this SNR in dB")
    g.add_argument(
        "--time-shift", metavar="RANGE", help="shift by this fraction of the length (positive delays)"
    )
    g.add_argument(
        "--speed", metavar="RANGE", help="speed factor by resampling (2 = twice as fast, half as long)"
    )
    g.add_argument("--pitch", metavar="RANGE", help="pitch shift in semitones, length kept")
    g.add_argument("--time-mask", metavar="F", help="zero a random span of up to this fraction of the length")
    g.add_argument(
        "--freq-mask", metavar="F", help="zero a random band of up to this fraction of the spectrum"
    )


def _flag_name(dest: str) -> str:
    return "--" + dest.replace("_", "-")


def _parse_flag(dest: str, raw, kind: str):
    from tui_trainer.errors import UserError

    if kind in ("flag", "str"):
        return raw
    text = str(raw).strip()
    try:
        if kind == "int":
            return int(text)
        if kind == "shift":
            # Keras: an int means whole pixels, a float < 1 a fraction of the size.
            return int(text) if text.lstrip("+-").isdigit() else float(text)
        if kind == "range" and "," in text:
            lo, hi = (float(p) for p in text.split(","))
            return [lo, hi]
        return float(text)
    except ValueError:
        expected = (
            "a whole number" if kind == "int" else ("a number or LO,HI" if kind == "range" else "a number")
        )
        raise UserError(f"{_flag_name(dest)}: expected {expected}, got {text!r}") from None


def build_pipeline(args: argparse.Namespace):
    """The config file's pipeline (or the default one) with the flags laid over it."""
    from tui_trainer.augment.pipeline import Pipeline, default_pipeline, load_pipeline, validate_value

    overrides = [(dest, spec) for dest, spec in FLAG_KEYS.items() if getattr(args, dest, None) is not None]
    if args.config:
        pipeline = load_pipeline(args.config)
    elif overrides:
        pipeline = Pipeline()
    else:
        pipeline = default_pipeline()
    for dest, (section, key, kind) in overrides:
        value = _parse_flag(dest, getattr(args, dest), kind)
        getattr(pipeline, section)[key] = validate_value(section, key, value, source=_flag_name(dest))
    pipeline.check("flags")
    return pipeline


def run(args: argparse.Namespace) -> int:
    import sys
    from pathlib import Path

    import numpy as np

    from tui_trainer.atomic import atomic_write_bytes
    from tui_trainer.augment import media
    from tui_trainer.data.suffixes import media_kind
    from tui_trainer.errors import UserError

    src = Path(args.input)
    if not src.exists():
        raise UserError(f"{src}: no such file")
    if not src.is_file():
        raise UserError(f"{src}: not a file")
    if args.n < 1:
        raise UserError(f"--n: expected at least 1, got {args.n}")
    if not 0 <= args.seed < 2**63:
        raise UserError(f"--seed: expected a whole number from 0 to 2**63 - 1, got {args.seed}")
    limit = media.max_pixels(args.max_pixels)
    out_dir = Path(args.out)
    if out_dir.exists() and not out_dir.is_dir():
        raise UserError(f"--out {out_dir}: is a file; expected a folder (created if missing)")
    pipeline = build_pipeline(args)
    if args.save_config:
        from tui_trainer.atomic import check_destination
        from tui_trainer.augment.pipeline import save_pipeline

        save_to = Path(args.save_config)
        if save_to.is_dir():
            raise UserError(
                f"--save-config {save_to}: is a folder; expected a file path such as {save_to}/aug.toml"
            )
        check_destination(save_to)
        save_pipeline(pipeline, save_to)
    kind = media_kind(src)
    is_csv = src.suffix.lower() == ".csv"
    ext = ".csv" if is_csv else {"image": ".png", "text": ".txt", "audio": ".wav"}[kind]
    targets = [out_dir / f"{src.stem}-{k}{ext}" for k in range(args.n)]
    resolved_src = src.resolve()
    for target in targets:
        if target.resolve() == resolved_src:
            raise UserError(f"{target}: refusing to overwrite the input file; choose another --out")

    if kind == "image":
        from tui_trainer.augment.image import apply_params_numpy, sample_params

        image = media.read_image(src, limit)
        palette = media.read_palette(src)
        if "normalize_mean" in pipeline.image:
            print(
                "tui-trainer augment: normalisation is skipped for PNG output (it yields floats)",
                file=sys.stderr,
            )
        spec = pipeline.image_spec(skip_normalize=True)
        for k, target in enumerate(targets):
            rng = np.random.default_rng([args.seed, k])
            params = sample_params(spec, rng, image.shape[0], image.shape[1])
            if palette is not None and params.is_index_mapping:
                # A palette image under a pure index mapping stays a palette image with the same indices.
                indices, like = palette
                atomic_write_bytes(target, media.palette_png_bytes(apply_params_numpy(indices, params), like))
            else:
                atomic_write_bytes(target, media.png_bytes(apply_params_numpy(image, params)))
    elif kind == "text":
        from tui_trainer.augment.preview import augment_text_file
        from tui_trainer.augment.text import augment_csv, document_text

        text = media.read_text(src)
        if not text.strip():
            raise UserError(
                f"{src}: no text to augment (the file is empty or blank); expected one example per line"
            )
        spec = pipeline.text_spec()
        labelled = bool(pipeline.text.get("labelled", False))
        for k, target in enumerate(targets):
            rng = np.random.default_rng([args.seed, k])
            if is_csv:
                try:
                    body = augment_csv(text, spec, rng, args.text_column)
                except UserError as exc:
                    raise UserError(f"{src}: {exc}") from None
            else:
                # Hard-wrapped prose: a paragraph per example, as the Augment pane previews it.
                body = document_text(augment_text_file(text, spec, rng, labelled=labelled))
            atomic_write_bytes(target, body.encode("utf-8"))
    else:
        from tui_trainer.augment.audio import read_wav, wav_bytes

        samples, rate = read_wav(src)
        for k, target in enumerate(targets):
            rng = np.random.default_rng([args.seed, k])
            atomic_write_bytes(target, wav_bytes(pipeline.apply_audio(samples, rate, rng), rate))
    print(
        f"wrote {len(targets)} {kind} variant(s) of {src} to {out_dir}/ ({targets[0].name} .. {targets[-1].name})"
    )
    return 0
