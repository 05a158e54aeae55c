"""Pretraining streamed from a folder of image files against the same epoch from an in-memory array.

Writes `--files` RGB PNG files of `--size` x `--size` pixels (Fashion-MNIST's 70,000 images, resized,
tinted per class; mirrored copies past 70,000) into `--folder` (kept for the next run; rewritten
if its file count differs), then, each in a fresh process so that each has its own peak memory:

- `stream`: one epoch of the default autoencoder (`PretrainConfig`'s) over an `ImageFolderStream`
  of every file, as `pretrain_autoencoder` trains on a stream (`tlkeras.images.streaming.for_fit`);
- `memory`: the first `--in-memory` files decoded into one float32 array, then one epoch of the
  same autoencoder's `fit` on that array.

Each prints its epoch's wall time, its steady throughput (images per second after the first 20
batches, so that compiling and warming up count in neither) and its peak resident memory
(`ru_maxrss`); the ratio of the two throughputs is the cost of streaming.

Usage: python benchmarks/streaming.py [--files 100000] [--size 64] [--in-memory 20000] [--folder DIR]
"""

import argparse
import os
import resource
import subprocess
import sys
import time
from concurrent.futures import ProcessPoolExecutor

import numpy as np
from _machine import describe

TINTS = np.array([[1.0, 0.35, 0.35], [0.35, 1.0, 0.35], [0.35, 0.35, 1.0], [1.0, 1.0, 0.35], [0.35, 1.0, 1.0]])


def _write_chunk(folder, start, images, labels, size):
    from PIL import Image

    for offset, (pixels, label) in enumerate(zip(images, labels, strict=True)):
        index = start + offset
        gray = Image.fromarray(pixels).resize((size, size), Image.BILINEAR)
        if index >= 70000:
            gray = gray.transpose(Image.FLIP_LEFT_RIGHT)
        rgb = (np.asarray(gray, "float32")[..., None] * TINTS[label % len(TINTS)]).clip(0, 255).astype("uint8")
        Image.fromarray(rgb).save(os.path.join(folder, f"{index:06d}.png"), compress_level=1)


def write_files(folder, count, size):
    from tlkeras.data import load_fashion_mnist

    os.makedirs(folder, exist_ok=True)
    if len([n for n in os.listdir(folder) if n.endswith(".png")]) == count:
        print(f"reusing {count} files in {folder}", flush=True)
        return
    for name in os.listdir(folder):
        os.remove(os.path.join(folder, name))
    (x_train, y_train), (x_test, y_test) = load_fashion_mnist()
    images = (np.concatenate([x_train, x_test])[..., 0] * 255).round().astype("uint8")
    labels = np.concatenate([y_train, y_test])
    picked = np.arange(count) % len(images)
    start = time.perf_counter()
    chunk = 2000
    with ProcessPoolExecutor(os.cpu_count()) as pool:
        jobs = [
            pool.submit(_write_chunk, folder, i, images[picked[i : i + chunk]], labels[picked[i : i + chunk]], size)
            for i in range(0, count, chunk)
        ]
        for job in jobs:
            job.result()
    megabytes = sum(e.stat().st_size for e in os.scandir(folder)) / 1e6
    print(f"wrote {count} files ({megabytes:.0f} MB) in {time.perf_counter() - start:.0f} s", flush=True)


class SteadyThroughput:
    """Images per second over the batches after the first `skip` (compiling and warm-up left out)."""

    def __init__(self, batch_size, skip=20):
        import keras

        outer = self

        class Callback(keras.callbacks.Callback):
            def on_train_batch_end(self, batch, logs=None):
                outer.ends.append(time.perf_counter())

        self.callback, self.batch_size, self.skip, self.ends = Callback(), batch_size, skip, []

    def images_per_second(self, count):
        """`count` images trained in all; the last batch may be smaller than the others."""
        timed = count - self.batch_size * self.skip
        return timed / (self.ends[-1] - self.ends[self.skip - 1])


def measure(mode, folder, in_memory, batch_size, workers):
    import keras

    from tlkeras.images.folders import ImageFolderStream
    from tlkeras.images.streaming import for_fit, take_images
    from tlkeras.models import build_conv_autoencoder
    from tlkeras.pretraining import PretrainConfig

    config = PretrainConfig(epochs=1, batch_size=batch_size)
    stream = ImageFolderStream(folder, labels=None, color_mode="rgb", batch_size=batch_size, workers=workers)
    if mode == "stream":
        data, count = dict(x=for_fit(stream, "images", autoencoder=True)[0], shuffle=False), len(stream.paths)
    else:
        x = take_images(stream, in_memory, "images")
        data, count = dict(x=x, y=x, batch_size=batch_size), len(x)
    keras.utils.set_random_seed(config.seed)
    autoencoder = build_conv_autoencoder(
        input_shape=stream.image_shape, filters=config.filters, latent_dim=config.latent_dim, noise_stddev=0.2
    )
    autoencoder.compile(optimizer=keras.optimizers.Adam(config.learning_rate), loss="mse")
    throughput = SteadyThroughput(batch_size)
    start = time.perf_counter()
    history = autoencoder.fit(**data, epochs=1, callbacks=[throughput.callback], verbose=2)
    seconds = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2  # kB -> GB
    print(
        f"RESULT {mode}: {count} images, epoch {seconds:.1f} s, steady {throughput.images_per_second(count):.1f} "
        f"images/s, peak resident memory {peak:.2f} GB, loss {history.history['loss'][-1]:.4f}",
        flush=True,
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=100_000)
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--in-memory", type=int, default=20_000)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--workers", type=int, default=2, help="threads decoding batches ahead (PyDataset)")
    parser.add_argument("--folder", default=os.path.join("/tmp", "tlkeras-streaming-benchmark"))
    parser.add_argument("--measure", choices=("stream", "memory"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        measure(args.measure, args.folder, args.in_memory, args.batch_size, args.workers)
        return
    print(f"machine: {describe()}", flush=True)
    write_files(args.folder, args.files, args.size)
    results = {}
    for mode in ("stream", "memory"):
        done = subprocess.run(
            [sys.executable, __file__, *sys.argv[1:], "--measure", mode], capture_output=True, text=True, check=True
        )
        line = next(line for line in done.stdout.splitlines() if line.startswith("RESULT"))
        print(line, flush=True)
        results[mode] = float(line.split("steady ")[1].split()[0])
    print(f"streaming costs {100 * (1 - results['stream'] / results['memory']):.1f} % of the in-memory throughput")


if __name__ == "__main__":
    main()
