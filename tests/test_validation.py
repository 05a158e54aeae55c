import numpy as np
import pytest

from tlkeras._validation import check_images, check_labels

# Backend-independent: make test runs these on its first backend only.
pytestmark = pytest.mark.any_backend


def test_check_images_accepts_float_images_in_unit_range():
    x = check_images(np.full((2, 4, 4, 1), 0.5, dtype=np.float64))
    assert x.dtype == np.float32 and x.shape == (2, 4, 4, 1)


@pytest.mark.parametrize(
    "x, message",
    [
        (np.zeros((4, 4, 1), np.float32), "rank 4"),
        (np.zeros((2, 4, 4), np.float32), r"x\[..., None\]"),
        (np.full((2, 4, 4, 1), 255, np.uint8), "/ 255"),
        (np.full((2, 4, 4, 1), 200.0, np.float32), "values in"),
        (np.full((2, 4, 4, 1), -0.1, np.float32), r"\[-0.1, -0.1\]"),
        (np.full((2, 4, 4, 1), np.nan, np.float32), "NaN"),
        (np.zeros((0, 4, 4, 1), np.float32), "at least one image"),
        ([[0.0]], "array of images"),
    ],
)
def test_check_images_rejects_bad_images_naming_the_argument(x, message):
    with pytest.raises(ValueError, match=message) as info:
        check_images(x, "x_train")
    assert "x_train" in str(info.value)


def test_check_images_rejects_the_wrong_image_shape():
    with pytest.raises(ValueError, match=r"expects \(16, 16, 1\)"):
        check_images(np.zeros((2, 28, 28, 1), np.float32), expected_shape=(16, 16, 1))


def test_check_labels_accepts_column_vectors_and_integral_floats():
    assert check_labels(np.array([[0], [2]])).tolist() == [0, 2]
    assert check_labels(np.array([1.0, 0.0])).dtype == np.int64


@pytest.mark.parametrize(
    "y, kwargs, message",
    [
        (np.array([0, 3]), {"num_classes": 3}, "max\\(labels\\)=3"),
        (np.array([0, -1]), {}, "min\\(labels\\)=-1"),
        (np.array([0, 1]), {"length": 3}, "len\\(labels\\)=2"),
        (np.eye(3), {}, "argmax"),
        (np.array([0.5, 1.0]), {}, "non-integer"),
        (np.array(["a", "b"]), {}, "dtype"),
    ],
)
def test_check_labels_rejects_bad_labels(y, kwargs, message):
    with pytest.raises(ValueError, match=message):
        check_labels(y, "labels", **kwargs)
