"""Folders of image files: the Keras layout, RGB and grayscale, and every way a folder can be wrong."""

import numpy as np
import pytest
from helpers import save_pngs
from PIL import Image

from tlkeras.folders import load_folder_dataset, load_image_folder

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
