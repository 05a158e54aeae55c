"""Folders of image files: the Keras layout, RGB and grayscale, and every way a folder can be wrong."""

import numpy as np
import pytest
from helpers import save_pngs
from PIL import Image

from tlkeras.images.folders import load_folder_dataset, load_image_folder

# Backend-independent: make test runs these on its first backend only.
pytestmark = pytest.mark.any_backend

TINTS = {"a_red": (1.0, 0.3, 0.3), "b_green": (0.3, 1.0, 0.3), "c_blue": (0.3, 0.3, 1.0)}


def _write(folder, digits, n=4, size=12, tint=(1.0, 1.0, 1.0)):
    """`n` PNG files of real digits, `size` x `size`, tinted (RGB) so that colour tells the classes apart."""
    grays = [np.asarray(Image.fromarray((d[:, :, 0] * 255).astype("uint8")).resize((size, size))) for d in digits[:n]]
    save_pngs(folder, [np.stack([g * t for t in tint], axis=-1).clip(0, 255) for g in grays])


@pytest.fixture
def classes(tmp_path, images):
    for k, (name, tint) in enumerate(TINTS.items()):
        _write(tmp_path / "data" / name, images[4 * k :], tint=tint)
    return tmp_path / "data"


def test_a_class_folder_loads_in_label_order_in_rgb_and_grayscale(classes):
    x, y, names = load_image_folder(classes, color_mode="rgb")
    assert names == sorted(TINTS) and y.tolist() == [0] * 4 + [1] * 4 + [2] * 4
    assert x.shape == (12, 12, 12, 3) and x.dtype == np.float32 and 0 <= x.min() and x.max() <= 1
    channel_means = x.mean(axis=(1, 2))
    assert all(np.argmax(channel_means[y == label].mean(axis=0)) == label for label in range(3)), "the tints survive"
    gray, _, _ = load_image_folder(classes, color_mode="grayscale", image_size=(8, 10))
    assert gray.shape == (12, 8, 10, 1)
    x2, y2, names2 = load_image_folder(classes, class_names=["c_blue", "a_red"], color_mode="rgb")
    assert names2 == ["c_blue", "a_red"] and y2.tolist() == [0] * 4 + [1] * 4
    np.testing.assert_array_equal(x2[4:], x[:4])


def test_unlabeled_images_load_without_labels(tmp_path, images):
    _write(tmp_path / "u", images)
    _write(tmp_path / "u" / "more", images[4:], n=2)
    x = load_image_folder(tmp_path / "u", labels=None, color_mode="rgb", image_size=16)
    assert x.shape == (6, 16, 16, 3)


def test_files_that_are_not_images_are_skipped_and_counted_or_refused(classes):
    (classes / "a_red" / "notes.txt").write_text("not an image")
    (classes / "b_green" / "broken.png").write_bytes(b"\x89PNG garbage")
    with pytest.warns(UserWarning, match=r"Skipped 2 of 14 files .*notes.txt: not an image file.*broken.png: cannot"):
        x, y, _ = load_image_folder(classes)
    assert len(x) == 12 and np.bincount(y).tolist() == [4, 4, 4]
    with pytest.raises(ValueError, match=r"notes.txt: not an image file.*on_error='skip'"):
        load_image_folder(classes, on_error="raise")


@pytest.mark.parametrize(
    "layout, kwargs, error, message",
    [
        ("missing", {}, FileNotFoundError, r"`directory` must be a folder of images.*missing"),
        ("file", {}, FileNotFoundError, r"\(a file\)"),
        ("empty", {}, ValueError, "has no class sub-folders"),
        ("empty_class", {}, ValueError, "No images in the class folder"),
        ("classes", {"class_names": ["a_red", "zebra"]}, FileNotFoundError, r"No folder for class\(es\) \['zebra'\]"),
        ("mixed", {}, ValueError, r"different sizes.*image_size"),
        ("classes", {"color_mode": "cmyk"}, ValueError, "color_mode"),
        ("classes", {"image_size": (0, 4)}, ValueError, "image_size"),
        ("classes", {"on_error": "ignore"}, ValueError, "on_error"),
    ],
)
def test_a_wrong_folder_or_argument_is_named(tmp_path, classes, images, layout, kwargs, error, message):
    target = {"classes": classes, "missing": tmp_path / "nowhere", "file": tmp_path / "f.png"}.get(layout)
    if layout == "file":
        target.write_bytes(b"x")
    elif layout == "empty":
        target = tmp_path / "empty"
        target.mkdir()
    elif layout == "empty_class":
        target = classes
        (classes / "d_empty").mkdir()
    elif layout == "mixed":
        target = classes
        _write(classes / "a_red", images, n=1, size=20)  # 000.png again, now 20x20
    with pytest.raises(error, match=message):
        load_image_folder(target, **kwargs)


def test_the_demo_layout_reads_train_test_and_unlabeled(tmp_path, images):
    root = tmp_path / "mine"
    for k, name in enumerate(("cat", "dog")):
        _write(root / "train" / name, images[4 * k :])
        _write(root / "test" / name, images[8 + 2 * k :], n=2)
    (train, y_train), (test, y_test), unlabeled, names = load_folder_dataset(root, color_mode="rgb")
    assert train.shape == (8, 12, 12, 3) and test.shape == (4, 12, 12, 3) and unlabeled is None
    assert names == ["cat", "dog"] and y_test.tolist() == [0, 0, 1, 1]
    _write(root / "unlabeled", images, n=3)
    assert load_folder_dataset(root)[2].shape == (3, 12, 12, 1)
    _write(root / "test" / "dog", images, n=1, size=14)
    with pytest.raises(ValueError, match="different sizes"):
        load_folder_dataset(root)
    with pytest.raises(FileNotFoundError, match="has no 'train' folder"):
        load_folder_dataset(root / "train")


# Image files decoded as they are, or refused by name.


def test_sixteen_bit_grayscale_is_scaled_from_its_own_range(tmp_path):
    folder = tmp_path / "grey"
    folder.mkdir()
    Image.fromarray(np.full((4, 4), 32768, np.uint16)).save(folder / "mid.png")
    Image.fromarray(np.full((4, 4), 65535, np.uint16)).save(folder / "white.png")
    assert Image.open(folder / "mid.png").mode.startswith("I")
    x = load_image_folder(folder, labels=None)
    np.testing.assert_allclose(x[:, 0, 0, 0], [0.5, 1.0], atol=1 / 255)
    rgb = load_image_folder(folder, labels=None, color_mode="rgba")
    np.testing.assert_allclose(rgb[0, 0, 0], [0.5, 0.5, 0.5, 1.0], atol=1 / 255)


@pytest.mark.parametrize(
    "mode, extension",
    [("1", "png"), ("L", "png"), ("LA", "png"), ("P", "png"), ("RGB", "png"), ("RGBA", "png")]
    + [("I;16", "png"), ("CMYK", "jpg"), ("P", "gif"), ("RGB", "bmp")],
)
def test_every_mode_our_extensions_hold_lands_in_the_unit_range(tmp_path, mode, extension):
    path = tmp_path / "images" / f"a.{extension}"
    path.parent.mkdir()
    Image.new(mode, (3, 3)).save(path)
    assert Image.open(path).mode == mode  # the file holds the mode itself, not a conversion
    x = load_image_folder(path.parent, labels=None, color_mode="rgb")
    assert x.dtype == np.float32 and x.shape == (1, 3, 3, 3) and 0 <= x.min() <= x.max() <= 1


def test_a_mode_without_a_fixed_range_or_a_decompression_bomb_is_skipped_by_name(tmp_path, monkeypatch):
    folder = tmp_path / "images"
    folder.mkdir()
    Image.new("L", (4, 4), 9).save(folder / "fine.png")
    for mode, value in (("F", 3.5), ("I", 2**20)):  # 32-bit TIFFs behind an image extension: Pillow reads the bytes
        Image.new(mode, (4, 4), value).save(folder / f"{mode}.tif")
        (folder / f"{mode}.tif").rename(folder / f"wide_{mode}.gif")
    with pytest.warns(UserWarning, match=r"Skipped 2 of 3 files.*wide_F.gif.*'F'.*wide_I.gif.*'I'"):
        assert load_image_folder(folder, labels=None).shape == (1, 4, 4, 1)
    Image.new("L", (64, 64)).save(folder / "large.png")
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)  # 64 x 64 is over twice the limit: an error, not a warning
    with pytest.warns(UserWarning, match="large.png: refused: its header declares more pixels"):
        load_image_folder(folder, labels=None)
    with pytest.raises(ValueError, match="large.png: refused"):
        load_image_folder(folder, labels=None, on_error="raise")


@pytest.mark.parametrize(
    "image_size, expected",
    [(np.int64(4), (4, 4)), ((np.int32(4), 6), (4, 6)), (2.5, None), ((4, 4.0), None), ("4", None), (object(), None)],
)
def test_image_size_takes_numpy_integers_and_names_anything_else(classes, image_size, expected):
    if expected is None:
        with pytest.raises(ValueError, match="`image_size` must be"):
            load_image_folder(classes, image_size=image_size)
    else:
        assert load_image_folder(classes, image_size=image_size)[0].shape[1:3] == expected


@pytest.mark.parametrize(
    "class_names, labels, message",
    [
        ("a_red", "inferred", "non-empty list"),
        (["a_red", "a_red"], "inferred", "twice"),
        ([], "inferred", "non-empty list"),
        (["a_red"], None, "needs labels='inferred'"),
    ],
)
def test_class_names_given_twice_as_a_string_or_without_labels_are_refused(classes, class_names, labels, message):
    with pytest.raises(ValueError, match=message):
        load_image_folder(classes, class_names=class_names, labels=labels)


def test_a_test_class_that_train_lacks_is_refused(tmp_path, images):
    for part, names in (("train", ("cat", "dog")), ("test", ("cat", "dog", "fox"))):
        for k, name in enumerate(names):
            _write(tmp_path / part / name, images[4 * k :])
    with pytest.raises(ValueError, match=r"class folder\(s\) \['fox'\] that 'train' lacks"):
        load_folder_dataset(tmp_path)
