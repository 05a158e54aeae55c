"""Streaming input: folders read batch by batch, and tf.data / PyDataset streams through pretraining and fine-tuning."""

import os
import warnings

import keras
import numpy as np
import pytest
from helpers import SHAPE, save_pngs, tiny_classifier

from tlkeras.images import folders, streaming
from tlkeras.images.folders import ImageFolderStream, load_image_folder
from tlkeras.pretraining import PretrainConfig, pretrain_autoencoder
from tlkeras.study.label_efficiency import label_efficiency
from tlkeras.study.schedule import Schedule
from tlkeras.transfer import fine_tune

TINY = dict(filters=(4, 8), latent_dim=6, epochs=2, batch_size=8)


@pytest.fixture
def digit_folders(tmp_path, images, labels):
    """Class folders `0/`, `1/`, `2/` of the real digits (16x16 PNG), and `unlabeled/` of all of them."""
    pixels = (images[..., 0] * 255).round()
    for c in range(3):
        save_pngs(tmp_path / "train" / str(c), pixels[labels == c])
    save_pngs(tmp_path / "unlabeled", pixels)
    return tmp_path


class Arrays(keras.utils.PyDataset):
    """A PyDataset of array batches, without a fingerprint (as most of the ones users write)."""

    def __init__(self, x, y=None, batch_size=8):
        super().__init__()
        self.x, self.y, self.batch_size = x, y, batch_size

    def __len__(self):
        return -(-len(self.x) // self.batch_size)

    def __getitem__(self, i):
        part = slice(i * self.batch_size, (i + 1) * self.batch_size)
        return self.x[part] if self.y is None else (self.x[part], self.y[part])


def test_a_folder_stream_yields_the_folder_batch_by_batch_reshuffled_every_epoch(digit_folders):
    x, y, names = load_image_folder(digit_folders / "train")
    stream = ImageFolderStream(digit_folders / "train", batch_size=10, shuffle=False)
    assert len(stream) == -(-len(x) // 10) and stream.image_shape == SHAPE and stream.class_names == names
    batches = [stream[i] for i in range(len(stream))]
    np.testing.assert_array_equal(np.concatenate([b[0] for b in batches]), x)
    np.testing.assert_array_equal(np.concatenate([b[1] for b in batches]), y)

    shuffled = ImageFolderStream(digit_folders / "train", batch_size=10, seed=3)
    first_epoch = np.concatenate([shuffled[i][1] for i in range(len(shuffled))])
    shuffled.on_epoch_end()
    second_epoch = np.concatenate([shuffled[i][1] for i in range(len(shuffled))])
    assert sorted(first_epoch) == sorted(y) and not np.array_equal(first_epoch, second_epoch)
    again = ImageFolderStream(digit_folders / "train", batch_size=10, seed=3)
    np.testing.assert_array_equal(np.concatenate([again[i][1] for i in range(len(again))]), first_epoch)


def test_no_batch_of_a_folder_stream_holds_a_single_image(digit_folders):
    # PyTorch (2.13, CPU) cannot train a one-filter Conv2D on one image: the last one joins the batch before.
    sizes = [
        len(batch) for batch in ImageFolderStream(digit_folders / "unlabeled", labels=None, max_images=17, batch_size=8)
    ]
    assert sizes == [8, 9]
    assert [len(b) for b in ImageFolderStream(digit_folders / "unlabeled", labels=None, max_images=1)] == [1]


def test_a_folder_stream_decodes_only_the_batch_asked_for(digit_folders, monkeypatch):
    stream = ImageFolderStream(digit_folders / "unlabeled", labels=None, batch_size=5)
    decoded = []
    real = folders._decode
    monkeypatch.setattr(folders, "_decode", lambda path, *a: decoded.append(path) or real(path, *a))
    assert stream[3].shape == (5, *SHAPE) and len(decoded) == 5


def test_a_folder_stream_leaves_out_bad_files_with_a_count_or_refuses_them(digit_folders):
    folder = digit_folders / "unlabeled"
    (folder / "notes.txt").write_text("not an image")
    (folder / "zz_broken.png").write_bytes(b"\x89PNG garbage")
    with pytest.warns(UserWarning, match=r"Left out 1 files without an image extension .*notes.txt"):
        stream = ImageFolderStream(folder, labels=None, batch_size=100, shuffle=False)
    assert len(stream[0]) == len(stream.paths) - 1 and len(stream.skipped) == 1
    with pytest.warns(UserWarning, match=r"Skipped 1 unreadable files .*zz_broken.png: cannot be decoded"):
        stream.on_epoch_end()
    with pytest.raises(ValueError, match=r"notes.txt .* is not an image file"):
        ImageFolderStream(folder, labels=None, on_error="raise")
    (folder / "notes.txt").unlink()
    with pytest.raises(ValueError, match=r"zz_broken.png: cannot be decoded"):
        ImageFolderStream(folder, labels=None, batch_size=100, shuffle=False, on_error="raise")[0]


def test_a_folder_stream_refuses_an_image_of_another_size(digit_folders):
    save_pngs(digit_folders / "odd", [np.zeros((16, 16)), np.zeros((9, 12))])
    stream = ImageFolderStream(digit_folders / "odd", labels=None, shuffle=False)
    with pytest.raises(ValueError, match=r"different sizes .*000.png is 16x16, .*001.png is 12x9"):
        stream[0]
    assert ImageFolderStream(digit_folders / "odd", labels=None, image_size=8)[0].shape == (2, 8, 8, 1)


def test_the_fingerprint_follows_the_files_not_the_order(digit_folders):
    folder = digit_folders / "unlabeled"
    first = ImageFolderStream(folder, labels=None).fingerprint()
    assert ImageFolderStream(folder, labels=None).fingerprint() == first
    one = sorted(folder.iterdir())[0]
    stat = os.stat(one)
    os.utime(one, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
    assert ImageFolderStream(folder, labels=None).fingerprint()["sha256"] != first["sha256"]
    assert ImageFolderStream(folder, labels=None, max_images=5).fingerprint()["files"] == 5


def test_pretraining_streams_a_folder_and_caches_it_by_its_files(digit_folders, tmp_path, images):
    config = PretrainConfig(**TINY)
    stream = ImageFolderStream(digit_folders / "unlabeled", labels=None, batch_size=8, seed=1)
    result = pretrain_autoencoder(config, cache_dir=tmp_path / "cache", images=stream, verbose=0)
    assert not result.cached and result.autoencoder.input_shape[1:] == SHAPE
    assert set(result.history) == {"loss"} and len(result.history["loss"]) == 2
    assert result.history["loss"][-1] < result.history["loss"][0]
    again = pretrain_autoencoder(config, cache_dir=tmp_path / "cache", images=stream, verbose=0)
    assert again.cached and again.path == result.path
    fewer = ImageFolderStream(digit_folders / "unlabeled", labels=None, batch_size=8, seed=1, max_images=40)
    assert config.cache_key(fewer) != config.cache_key(stream) != config.cache_key(images)


def test_pretraining_refuses_what_a_stream_cannot_honour(digit_folders, images):
    stream = ImageFolderStream(digit_folders / "unlabeled", labels=None, batch_size=16)
    with pytest.raises(ValueError, match=r"The stream batches 16 images, the config says batch_size=8"):
        pretrain_autoencoder(PretrainConfig(**TINY), cache_dir=False, images=stream)
    with pytest.raises(ValueError, match=r"`config.max_images` cuts an array .*Received: max_images=10"):
        pretrain_autoencoder(
            PretrainConfig(**{**TINY, "batch_size": 16}, max_images=10), cache_dir=False, images=stream
        )
    with pytest.raises(ValueError, match=r"images \(batch \d+\)` must hold values in \[0, 1\]"):
        pretrain_autoencoder(
            PretrainConfig(**TINY), cache_dir=False, images=Arrays(np.concatenate([images, images * 255]))
        )
    with pytest.raises(ValueError, match=r"a stream without a fingerprint\(\) method"):
        PretrainConfig().cache_key(Arrays(images))


def test_a_stream_without_a_fingerprint_trains_but_is_not_cached(images, tmp_path):
    with pytest.warns(UserWarning, match=r"Not caching the autoencoder: the stream \(Arrays\) has no fingerprint"):
        result = pretrain_autoencoder(PretrainConfig(**TINY), cache_dir=tmp_path, images=Arrays(images), verbose=0)
    assert result.path is None and not os.listdir(tmp_path)


def test_pretraining_and_fine_tuning_read_a_tf_data_dataset(images, labels):
    tf = pytest.importorskip("tensorflow")
    unlabeled = tf.data.Dataset.from_tensor_slices(images).shuffle(64, seed=0).batch(8).prefetch(tf.data.AUTOTUNE)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # not cached: a tf.data.Dataset has no fingerprint
        result = pretrain_autoencoder(PretrainConfig(**TINY), images=unlabeled, verbose=0)
    assert result.history["loss"][-1] < result.history["loss"][0]
    model = tiny_classifier()
    labeled = tf.data.Dataset.from_tensor_slices((images, labels)).shuffle(64, seed=0).batch(8)
    history = fine_tune(model, labeled, None, head_epochs=2, fine_tune_epochs=1, validation_data=labeled, verbose=0)
    assert len(history.history["val_accuracy"]) == 3
    with pytest.raises(ValueError, match=r"must yield \(images, labels\) batches. Received batches of images alone"):
        fine_tune(tiny_classifier(), unlabeled, None, head_epochs=1, verbose=0)


def test_fine_tuning_reads_a_folder_stream_and_checks_every_batch(digit_folders, images, labels):
    model = tiny_classifier()
    stream = ImageFolderStream(digit_folders / "train", batch_size=8)
    history = fine_tune(model, stream, None, head_epochs=3, fine_tune_epochs=2, verbose=0)
    assert len(history.history["loss"]) == 5 and history.history["loss"][-1] < history.history["loss"][0]
    with pytest.raises(ValueError, match=r"`y` must be None when `x` is a stream"):
        fine_tune(model, stream, labels, verbose=0)
    wrong = labels.copy()
    wrong[-1] = 7
    with pytest.raises(ValueError, match=r"x \(labels of batch \d+\)`"):
        fine_tune(tiny_classifier(), Arrays(images, wrong), None, head_epochs=1, fine_tune_epochs=0, verbose=0)
    rgb = ImageFolderStream(digit_folders / "train", color_mode="rgb")
    with pytest.raises(ValueError, match=r"x \(first batch\)` has images of shape \(16, 16, 3\)"):
        fine_tune(tiny_classifier(), rgb, None, verbose=0)


def test_the_study_draws_its_unlabeled_pool_from_a_stream(digit_folders, images, labels):
    autoencoder = pretrain_autoencoder(PretrainConfig(**TINY), cache_dir=False, images=images, verbose=0).autoencoder
    stream = ImageFolderStream(digit_folders / "unlabeled", labels=None, batch_size=8)
    runs = label_efficiency(
        autoencoder,
        (images, labels),
        (images, labels),
        labels_per_class=(2,),
        strategies=("lp_ft",),
        seeds=(0,),
        schedule=Schedule(max_steps=4, eval_every=2, patience=1),
        strategy_options={"lp_ft": {"pool_images": 20}},
        pool_images=20,
        validation_size=12,
        extra_unlabeled=stream,
        progress=False,
    )
    assert len(runs) == 1 and 0 <= runs[0]["accuracy"] <= 1
    assert streaming.take_images(stream, 20, "s").shape == (20, *SHAPE)
    assert streaming.take_images(stream, 1000, "s").shape == (len(images), *SHAPE)


def test_a_folder_stream_skips_an_unreadable_first_file_as_the_folder_loader_does(digit_folders):
    (digit_folders / "unlabeled" / "-broken.png").write_bytes(b"not a png")
    with pytest.warns(UserWarning, match="Skipped 1 unreadable files.*-broken.png"):
        stream = ImageFolderStream(digit_folders / "unlabeled", labels=None, batch_size=8, shuffle=False)
    with pytest.warns(UserWarning, match="Skipped 1 of"):
        loaded = load_image_folder(digit_folders / "unlabeled", labels=None)
    np.testing.assert_array_equal(np.concatenate([stream[i] for i in range(len(stream))]), loaded)
    with pytest.raises(ValueError, match="-broken.png: cannot be decoded"):
        ImageFolderStream(digit_folders / "unlabeled", labels=None, on_error="raise")


def test_the_fingerprint_reads_odd_file_names_and_dangling_links(digit_folders):
    folder = digit_folders / "unlabeled"
    odd = os.fsdecode(b"\xff\xfe.png")  # not UTF-8: os keeps it with surrogate escapes
    (folder / "000.png").rename(os.path.join(folder, odd))
    os.symlink(folder / "gone.png", folder / "zzz_dangling.png")
    stream = ImageFolderStream(folder, labels=None, batch_size=8)
    first = stream.fingerprint()
    assert first == stream.fingerprint() and first["files"] == len(stream.paths)
    os.remove(folder / "zzz_dangling.png")
    assert ImageFolderStream(folder, labels=None, batch_size=8).fingerprint()["sha256"] != first["sha256"]


def test_max_images_on_class_folders_takes_every_class_in_turn(digit_folders, labels):
    stream = ImageFolderStream(digit_folders / "train", max_images=7, shuffle=False, batch_size=7)
    assert np.bincount(stream.labels).tolist() == [3, 2, 2]
    assert stream.labels.tolist() == sorted(stream.labels.tolist())  # still in the folders' order
    with pytest.raises(ValueError, match="`max_images` must leave each of the 3 classes an image.*max_images=2"):
        ImageFolderStream(digit_folders / "train", max_images=2)
