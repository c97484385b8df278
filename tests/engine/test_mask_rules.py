"""Rules of the mask generators and mask files (engine/masks.py) that the other mask tests
leave open.

Guards: leaving the seed out is seed 0 (the command line's default) and leaving the ratio
out of `generate` is 75%; the block generator's checks of its arguments and their words;
its rectangles have the aspect asked for, are whole rectangles inside the grid (also on a
grid one patch tall or wide); the note for a mask whose share is not the ratio; refusal
messages name the file, the value and what is accepted; .npy files of format version 2
read like version 1; mask images: the black/white slack (also on 16-bit images, and at its
exact edges), colour counts, every grey pixel mode; .npy masks: empty, too large, truncated,
not 2-D or not numbers are refused in words, before the data is read.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from mae_desktop.engine import MAEError, masks

GRID = (6, 8)


@pytest.mark.parametrize(
    ("draw", "seeded"),
    [
        (lambda: masks.random_mask(GRID, 0.5), lambda s: masks.random_mask(GRID, 0.5, s)),
        (lambda: masks.block_mask(GRID, 20), lambda s: masks.block_mask(GRID, 20, s)),
        (lambda: masks.coarse_mask(GRID, 0.5), lambda s: masks.coarse_mask(GRID, 0.5, s)),
        (
            lambda: masks.generate("random", GRID, 0.5),
            lambda s: masks.generate("random", GRID, 0.5, s),
        ),
    ],
)
def test_no_seed_is_seed_0(draw, seeded) -> None:
    np.testing.assert_array_equal(draw(), seeded(0))
    assert any(not np.array_equal(seeded(0), seeded(s)) for s in (1, 2, 3))


def test_describe_generation_draws_with_seed_0_when_no_seed_is_given() -> None:
    # coarse cells cut at the edge of a 3 x 3 grid: the masked count depends on the seed
    notes = [masks.describe_generation("coarse", (3, 3), 0.3, seed=s) for s in range(2)]
    assert notes[0] != notes[1]
    assert masks.describe_generation("coarse", (3, 3), 0.3) == notes[0]
    k = int(masks.coarse_mask((3, 3), 0.3, seed=0).sum())
    assert notes[0] == (
        f"the coarse generator masks {100 * k / 9:.1f}% ({k} of 9 patches) for ratio 0.3: "
        "it masks whole 2x2-patch cells"
    )


def test_generate_without_a_ratio_masks_75_percent() -> None:
    assert masks.generate("random", (4, 4)).sum() == 12
    assert masks.generate("center", (4, 4)).sum() == round(4 * 0.75**0.5) ** 2


@pytest.mark.parametrize(
    ("kwargs", "words"),
    [
        ({"min_block": 0}, "block mask: min block must be >= 1 and min aspect > 0"),
        ({"min_block": -2}, "block mask: min block must be >= 1 and min aspect > 0"),
        ({"min_aspect": 0.0}, "block mask: min block must be >= 1 and min aspect > 0"),
        ({"min_aspect": -0.5}, "block mask: min block must be >= 1 and min aspect > 0"),
        ({"min_block": 0, "min_aspect": 0.0}, "min block must be >= 1"),
    ],
)
def test_block_arguments_are_checked(kwargs: dict, words: str) -> None:
    with pytest.raises(MAEError) as err:
        masks.block_mask(GRID, 10, **kwargs)
    assert str(err.value) == "block mask: min block must be >= 1 and min aspect > 0"
    assert words in str(err.value)


@pytest.mark.parametrize("kwargs", [{"min_block": 1}, {"min_aspect": 0.01}, {"min_block": 2}])
def test_the_smallest_allowed_block_arguments_work(kwargs: dict) -> None:
    assert masks.block_mask(GRID, 10, **kwargs).sum() == 10


@pytest.mark.parametrize("count", [-1, 49])
def test_block_count_out_of_range_says_the_range(count: int) -> None:
    with pytest.raises(MAEError, match=rf"number of patches must be 0\.\.48, got {count}"):
        masks.block_mask(GRID, count)


def test_coarse_block_size_is_checked_with_the_value() -> None:
    with pytest.raises(MAEError, match="coarse mask: block size must be >= 1, got 0"):
        masks.coarse_mask(GRID, 0.5, block=0)


def test_unknown_mode_lists_the_known_ones() -> None:
    with pytest.raises(MAEError, match="known: random, block, grid, coarse, center$"):
        masks.generate("stripes", GRID)


@pytest.mark.parametrize(
    ("aspect", "shape"), [(0.25, (1, 4)), (4.0, (4, 1)), (1.0, (2, 2)), (0.5, (2, 4))]
)
def test_blocks_have_the_aspect_asked_for(aspect: float, shape: tuple[int, int]) -> None:
    area = shape[0] * shape[1]
    for seed in range(12):
        m = masks.block_mask(
            (8, 8), area, seed, min_block=area, max_block=area, min_aspect=aspect, max_aspect=aspect
        )
        rows, cols = np.nonzero(m)
        box = (rows.max() - rows.min() + 1, cols.max() - cols.min() + 1)
        assert box == shape and m.sum() == area, seed


def test_blocks_are_whole_rectangles_also_at_the_right_and_bottom_edges() -> None:
    # a 1 x 4 block on a 1 x 5 grid starts at column 0 or 1, never cut off at the edge
    starts = set()
    for seed in range(40):
        m = masks.block_mask(
            (1, 5), 4, seed, min_block=4, max_block=4, min_aspect=0.25, max_aspect=0.25
        )
        assert m.sum() == 4, seed
        starts.add(int(np.argmax(m[0])))
        t = masks.block_mask(
            (5, 1), 4, seed, min_block=4, max_block=4, min_aspect=4.0, max_aspect=4.0
        )
        assert t.sum() == 4 and t[1:4, 0].all(), seed
    assert starts == {0, 1}


@pytest.mark.parametrize("grid", [(1, 8), (8, 1)])
def test_a_grid_one_patch_tall_or_wide_still_gets_blocks(grid: tuple[int, int]) -> None:
    for seed in range(5):
        assert masks.block_mask(grid, 4, seed).sum() == 4


def test_a_random_mask_given_with_another_share_gets_the_general_note() -> None:
    note = masks.describe_generation("random", (2, 2), 0.5, mask=np.ones((2, 2), bool))
    assert (
        note == "the random generator masks 100.0% (4 of 4 patches) for ratio 0.5: "
        "that is how it draws masks"
    )


def test_save_refuses_other_suffixes_by_name(tmp_path: Path) -> None:
    with pytest.raises(MAEError, match=r"unsupported mask file m\.bmp: use \.npy or \.png"):
        masks.save_mask(tmp_path / "m.bmp", np.zeros((2, 2), bool))


def test_npy_refusals_name_the_file(tmp_path: Path) -> None:
    path = tmp_path / "odd name.npy"
    np.save(path, np.array(["a", "b"]))
    with pytest.raises(MAEError, match="cannot read mask odd name.npy: not a plain .npy array"):
        masks.load_mask(path, (1, 2))


def test_a_version_2_npy_reads_like_version_1(tmp_path: Path) -> None:
    mask = np.array([[True, False, True], [False, False, True]])
    path = tmp_path / "v2.npy"
    with open(path, "wb") as fh:
        np.lib.format.write_array(fh, mask, version=(2, 0))
    np.testing.assert_array_equal(masks.load_mask(path, (2, 3)), mask)


# -- mask images: what counts as black and white ----------------------------------------------
def save_png(path: Path, pixels: np.ndarray, mode: str | None = None) -> Path:
    Image.fromarray(pixels, mode).save(path) if mode else Image.fromarray(pixels).save(path)
    return path


def test_a_colour_image_is_refused_with_its_number_of_colours(tmp_path: Path) -> None:
    # 7 distinct colours, two of which differ by one level in one channel only
    rgb = [(255, 0, 0), (0, 255, 0), (0, 0, 255), (255, 255, 0), (1, 0, 0), (0, 128, 0), (0, 0, 0)]
    path = save_png(tmp_path / "photo.png", np.array([rgb], np.uint8))
    with pytest.raises(MAEError, match="photo.png is not black and white: 7 distinct colours"):
        masks.load_mask(path, (1, 7))


def test_channels_8_levels_apart_are_still_grey(tmp_path: Path) -> None:
    rgb = [(0, 0, 8), (8, 0, 0), (255, 255, 247), (247, 255, 255)]
    path = save_png(tmp_path / "m.png", np.array([rgb], np.uint8))
    assert masks.load_mask(path, (1, 4)).tolist() == [[False, False, True, True]]


def test_16_bit_masks_use_the_same_slack_scaled_to_65535(tmp_path: Path) -> None:
    # 8 * 257 = 2056 is the darkest 'black', 247 * 257 = 63479 the darkest 'white'
    ok = save_png(tmp_path / "ok.png", np.array([[0, 2056, 63479, 65535]], np.uint16))
    assert masks.load_mask(ok, (1, 4)).tolist() == [[False, False, True, True]]
    for name, grey in (("dark.png", 2057), ("light.png", 63478)):
        path = save_png(tmp_path / name, np.array([[0, grey, 65535]], np.uint16))
        with pytest.raises(MAEError, match=f"{name} is not black and white: 3 distinct grey"):
            masks.load_mask(path, (1, 3))


def test_a_mid_grey_image_says_so(tmp_path: Path) -> None:
    path = save_png(tmp_path / "grey.png", np.full((2, 2), 128, np.uint8))
    with pytest.raises(
        MAEError,
        match="grey.png is not black and white: one mid-grey level; "
        "a mask has white = masked, black = visible$",
    ):
        masks.load_mask(path, (2, 2))


@pytest.mark.parametrize(("mode", "white"), [("I;16B", 65535), ("I", 65535), ("PA", 1)])
def test_a_mask_is_read_by_its_content_in_every_grey_mode(
    tmp_path: Path, mode: str, white: int
) -> None:
    # a TIFF (any name: Pillow reads the content) in the modes PNG itself does not produce
    im = Image.new(mode, (3, 1))
    if mode == "PA":
        im.putpalette([0, 0, 0, 255, 255, 255])  # index 0 black, 1 white
    for x, v in enumerate((0, white, 0)):
        im.putpixel((x, 0), (v, 255) if mode == "PA" else v)
    path = tmp_path / "mask.png"
    im.save(path, "TIFF")
    assert masks.load_mask(path, (1, 3)).tolist() == [[False, True, False]]


def test_an_image_in_another_pixel_mode_says_how_to_save_it(tmp_path: Path) -> None:
    path = tmp_path / "cmyk.png"
    Image.new("CMYK", (2, 2)).save(path, "JPEG")
    with pytest.raises(
        MAEError,
        match=r"cmyk.png has pixel mode CMYK; save it as a black-and-white "
        r"\(1-bit, greyscale or RGB\) PNG, white = masked, black = visible",
    ):
        masks.load_mask(path, (2, 2))


# -- .npy masks: what is refused, and in which words ----------------------------------------
def npy_header(path: Path, shape: tuple[int, ...], dtype: str = "|b1", data: bytes = b"") -> Path:
    with open(path, "wb") as fh:
        np.lib.format.write_array_header_1_0(
            fh, {"descr": dtype, "fortran_order": False, "shape": shape}
        )
        fh.write(data)
    return path


def test_a_file_that_is_not_npy_says_why_by_name(tmp_path: Path) -> None:
    path = tmp_path / "notes.npy"
    path.write_bytes(b"hello world 12345")
    with pytest.raises(
        MAEError, match=r"cannot read mask notes.npy: not a plain .npy array \(the magic string"
    ):
        masks.load_mask(path, (2, 2))


@pytest.mark.parametrize("shape", [(4,), (2, 2, 2)])
def test_a_npy_that_is_not_2_d_says_what_is_expected(tmp_path: Path, shape) -> None:
    path = tmp_path / "m.npy"
    np.save(path, np.zeros(shape, bool))
    with pytest.raises(MAEError, match=r"expected a 2-D bool array \(True = masked\)$"):
        masks.load_mask(path, (2, 2))


def test_a_npy_of_text_says_what_is_expected(tmp_path: Path) -> None:
    path = tmp_path / "m.npy"
    np.save(path, np.array([["a", "b"]]))
    with pytest.raises(MAEError, match=r"expected a 2-D bool array \(True = masked\)$"):
        masks.load_mask(path, (1, 2))


@pytest.mark.parametrize("shape", [(0, 3), (3, 0)])
def test_an_empty_npy_is_refused(tmp_path: Path, shape) -> None:
    path = npy_header(tmp_path / "e.npy", shape)
    with pytest.raises(
        MAEError,
        match=rf"mask e.npy is empty \({shape[1]}x{shape[0]}\); a mask has one value per patch",
    ):
        masks.load_mask(path, (2, 2))


@pytest.mark.parametrize("shape", [(16385, 1), (1, 16385), (16384, 16384)])
def test_a_header_claiming_too_many_values_is_refused_unread(tmp_path: Path, shape) -> None:
    path = npy_header(tmp_path / "big.npy", shape)
    with pytest.raises(MAEError, match="big.npy claims .* more than any mask can need"):
        masks.load_mask(path, (2, 2))


def test_a_mask_of_the_largest_side_is_read(tmp_path: Path) -> None:
    path = tmp_path / "wide.npy"
    np.save(path, np.ones((1, 16384), bool))
    assert masks.load_mask(path, (1, 16384)).all()


def test_a_npy_shorter_than_its_header_says_is_refused(tmp_path: Path) -> None:
    # float64 (2, 8) needs 128 bytes of data; 64 are there
    path = npy_header(tmp_path / "cut.npy", (2, 8), "<f8", bytes(64))
    with pytest.raises(MAEError, match="cut.npy: the file is shorter than its header says"):
        masks.load_mask(path, (2, 8))


def test_exactly_as_many_values_as_an_image_may_have_pixels_is_not_too_many(
    tmp_path: Path,
) -> None:
    from mae_desktop.engine.images import MAX_PIXELS

    if MAX_PIXELS != 6235 * 14351:  # Pillow's default limit, 89,478,485
        pytest.skip("another Pillow pixel limit")
    path = npy_header(tmp_path / "edge.npy", (6235, 14351))  # no data: refused as short
    with pytest.raises(MAEError, match="edge.npy: the file is shorter than its header says"):
        masks.load_mask(path, (2, 2))


@pytest.mark.parametrize("suffix", [".npy", ".png"])
@pytest.mark.parametrize("shape", [(5, 7), (4, 7), (5, 6), (4, 9)])
def test_a_mask_of_another_size_says_which_sizes_fit(
    tmp_path: Path, suffix: str, shape: tuple[int, int]
) -> None:
    # (4, 7), (5, 6): one side a whole number of patches, the other not; (4, 9): both, but
    # the patches would not be square
    path = tmp_path / f"m{suffix}"
    masks.save_mask(path, np.ones(shape, bool))
    with pytest.raises(MAEError) as err:
        masks.load_mask(path, (2, 3))
    assert str(err.value) == (
        f"mask m{suffix} is {shape[1]}x{shape[0]}; expected the patch grid (3x2) or an image "
        "of 3x2 equal patches (e.g. 48x32)"
    )


def test_a_missing_mask_file_is_called_a_mask_file(tmp_path: Path) -> None:
    with pytest.raises(MAEError, match="^mask file not found: "):
        masks.load_mask(tmp_path / "gone.npy", (2, 2))


@pytest.mark.parametrize("suffix", [".npy", ".png"])
def test_a_mask_that_cannot_be_written_is_called_a_mask(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / "no such folder" / f"m{suffix}"
    with pytest.raises(MAEError, match=f"^cannot write mask {re.escape(str(path))}: "):
        masks.save_mask(path, np.ones((2, 2), bool))
