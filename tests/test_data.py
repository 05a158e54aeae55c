import os

import numpy as np
import pytest
from helpers import write_idx

from tlkeras import data

# Backend-independent: make test runs these on its first backend only.
pytestmark = pytest.mark.any_backend


def _fake_fashion_dir(folder, n_train=12, n_test=6, fill=255):
    os.makedirs(folder, exist_ok=True)
    arrays = {
        "x_train": np.full((n_train, 28, 28), fill),
        "y_train": np.arange(n_train) % 10,
        "x_test": np.zeros((n_test, 28, 28)),
        "y_test": np.arange(n_test) % 10,
    }
    for key, fname in data.FASHION_MNIST_FILES.items():
        write_idx(os.path.join(folder, fname), arrays[key])
    return folder


@pytest.fixture
def no_local_data(tmp_path, monkeypatch):
    """Point every search location at empty folders."""
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras_home"))
    monkeypatch.delenv("TLKERAS_DATA_DIR", raising=False)
    monkeypatch.setattr(data, "DEBIAN_FASHION_MNIST_DIR", str(tmp_path / "debian"))
    return tmp_path


def test_load_fashion_mnist_offline_gives_the_full_dataset_in_unit_range():
    (x_train, y_train), (x_test, y_test) = data.load_fashion_mnist(download=False)
    assert x_train.shape == (60000, 28, 28, 1) and x_test.shape == (10000, 28, 28, 1)
    assert x_train.dtype == np.float32 and 0.0 <= x_train.min() and x_train.max() == 1.0
    assert np.bincount(y_train).tolist() == [6000] * 10
    assert np.bincount(y_test).tolist() == [1000] * 10


def test_keras_cache_comes_first_then_data_dir_then_debian(no_local_data, monkeypatch):
    tmp = no_local_data
    _fake_fashion_dir(tmp / "debian", n_train=3)
    assert len(data.load_fashion_mnist(download=False)[0][0]) == 3
    monkeypatch.setenv("TLKERAS_DATA_DIR", str(tmp / "mine"))
    _fake_fashion_dir(tmp / "mine", n_train=4)
    assert len(data.load_fashion_mnist(download=False)[0][0]) == 4
    _fake_fashion_dir(tmp / "keras_home" / "datasets" / "fashion-mnist", n_train=5)
    (x_train, y_train), (x_test, _) = data.load_fashion_mnist(download=False)
    assert len(x_train) == 5 and x_train.max() == 1.0 and x_test.shape == (6, 28, 28, 1)


def test_a_corrupt_copy_is_reported_and_skipped(no_local_data):
    tmp = no_local_data
    cache = _fake_fashion_dir(tmp / "keras_home" / "datasets" / "fashion-mnist")
    with open(os.path.join(cache, data.FASHION_MNIST_FILES["x_train"]), "wb") as f:
        f.write(b"not gzip at all")
    with pytest.raises(FileNotFoundError) as info:
        data.load_fashion_mnist(download=False)
    message = str(info.value)
    assert "keras_home" in message and "debian" in message and "apt-get install dataset-fashion-mnist" in message
    _fake_fashion_dir(tmp / "debian", n_train=7)
    assert len(data.load_fashion_mnist(download=False)[0][0]) == 7


def test_failed_download_is_listed_with_what_was_tried(no_local_data, monkeypatch):
    import keras

    def offline():
        raise OSError("no network")

    monkeypatch.setattr(keras.datasets.fashion_mnist, "load_data", offline)
    with pytest.raises(FileNotFoundError, match="no network"):
        data.load_fashion_mnist()


def test_download_result_is_converted_to_the_common_format(no_local_data, monkeypatch):
    import keras

    fake = (
        (np.full((2, 28, 28), 255, np.uint8), np.array([1, 2], np.uint8)),
        (np.zeros((1, 28, 28), np.uint8), np.array([3], np.uint8)),
    )
    monkeypatch.setattr(keras.datasets.fashion_mnist, "load_data", lambda: fake)
    (x_train, y_train), _ = data.load_fashion_mnist()
    assert x_train.shape == (2, 28, 28, 1) and x_train.max() == 1.0 and y_train.dtype == np.int64


def test_read_idx_rejects_truncated_files(tmp_path):
    path = tmp_path / "x.idx"
    write_idx(path, np.zeros((3, 2, 2)))
    path.write_bytes(path.read_bytes()[:-1])
    with pytest.raises(ValueError, match="corrupt"):
        data.read_idx(str(path))


def test_load_mnist_offline_failure_is_a_clear_error(monkeypatch):
    import keras

    def offline():
        raise OSError("no network")

    monkeypatch.setattr(keras.datasets.mnist, "load_data", offline)
    with pytest.raises(FileNotFoundError, match="load_digits"):
        data.load_mnist()


def test_load_mnist_converts_to_the_common_format(monkeypatch):
    import keras

    fake = (
        (np.full((2, 28, 28), 51, np.uint8), np.array([1, 2], np.uint8)),
        (np.zeros((1, 28, 28), np.uint8), np.array([3], np.uint8)),
    )
    monkeypatch.setattr(keras.datasets.mnist, "load_data", lambda: fake)
    (x_train, _), (x_test, y_test) = data.load_mnist()
    assert x_train.shape == (2, 28, 28, 1) and np.allclose(x_train, 0.2) and y_test.tolist() == [3]


@pytest.mark.parametrize("size", [8, 16, 28, 32])
def test_load_digits_is_offline_resized_and_stratified(size):
    (x_train, y_train), (x_test, y_test) = data.load_digits(size=size)
    assert x_train.shape[1:] == (size, size, 1) and len(x_train) + len(x_test) == 1797
    assert x_train.dtype == np.float32 and x_train.min() >= 0 and x_train.max() <= 1
    assert set(y_test.tolist()) == set(range(10))
    assert abs(len(x_test) / 1797 - 0.25) < 0.01
    again = data.load_digits(size=size)
    np.testing.assert_array_equal(again[1][0], x_test)


def test_resize_keeps_constant_images_constant_and_identity_at_same_size():
    x = np.random.default_rng(0).random((2, 8, 8, 1)).astype("float32")
    np.testing.assert_allclose(data.resize_images(x, 8), x, atol=1e-6)
    flat = np.full((1, 8, 8, 1), 0.3, "float32")
    np.testing.assert_allclose(data.resize_images(flat, 20), 0.3, atol=1e-6)


def test_sample_per_class_takes_exactly_n_per_class_reproducibly():
    y = np.repeat(np.arange(4), [5, 6, 7, 8])
    x = np.arange(len(y), dtype="float32")[:, None, None, None]
    xs, ys = data.sample_per_class(x, y, 5, seed=3)
    assert np.bincount(ys).tolist() == [5, 5, 5, 5]
    assert np.all(y[xs[:, 0, 0, 0].astype(int)] == ys)  # images stay with their labels
    assert len(set(xs[:, 0, 0, 0].tolist())) == 20  # no image twice
    np.testing.assert_array_equal(data.sample_per_class(x, y, 5, seed=3)[0], xs)
    assert not np.array_equal(data.sample_per_class(x, y, 5, seed=4)[0], xs)


def test_sample_per_class_refuses_more_than_available():
    y = np.repeat(np.arange(3), [4, 2, 4])
    with pytest.raises(ValueError, match=r"`labels_per_class` 3 is more than the 2 images left in class 1"):
        data.sample_per_class(np.zeros((10, 2, 2, 1), "float32"), y, 3)
    with pytest.raises(ValueError, match="`labels_per_class`"):
        data.sample_per_class(np.zeros((10, 2, 2, 1), "float32"), y, 0)


def test_split_by_class_reindexes_in_the_order_given():
    y = np.array([3, 1, 4, 1, 5])
    x = np.arange(5, dtype="float32")[:, None, None, None]
    xs, ys = data.split_by_class(x, y, [5, 1])
    assert xs[:, 0, 0, 0].tolist() == [1, 3, 4] and ys.tolist() == [1, 1, 0]
    with pytest.raises(ValueError, match="do not occur"):
        data.split_by_class(x, y, [9])
    with pytest.raises(ValueError, match="repeat"):
        data.split_by_class(x, y, [1, 1])


def test_class_names():
    assert len(data.class_names("fashion_mnist")) == 10
    assert data.class_names("digits")[7] == "7"
    with pytest.raises(ValueError, match="dataset"):
        data.class_names("cifar10")
