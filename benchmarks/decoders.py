"""Conv2DTranspose against UpSampling2D + Conv2D decoders: seconds per epoch on the current backend.

Both decoders of the default autoencoder (filters (32, 64), latent 64) train for two epochs on the
same images, one after the other in one run; the second epoch's time is the one to compare (the
first includes compiling). Run it once per backend: `KERAS_BACKEND=jax python benchmarks/decoders.py`.

Usage: python benchmarks/decoders.py [--images 6000] [--batch-size 64]
"""

import argparse
import time

import keras
from _machine import describe

from tlkeras.data import load_fashion_mnist
from tlkeras.models import UPSAMPLING, build_conv_autoencoder


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=6000)
    parser.add_argument("--batch-size", type=int, default=64)
    args = parser.parse_args()
    print(describe())
    (x, _), _ = load_fashion_mnist()
    x = x[: args.images]
    for upsampling in UPSAMPLING:
        keras.utils.set_random_seed(0)
        ae = build_conv_autoencoder(filters=(32, 64), latent_dim=64, upsampling=upsampling)
        ae.compile(optimizer="adam", loss="mse")
        seconds = []
        for _ in range(2):
            start = time.perf_counter()
            history = ae.fit(x, x, epochs=1, batch_size=args.batch_size, verbose=0)
            seconds.append(time.perf_counter() - start)
        print(
            f"{keras.backend.backend()} {upsampling:>10}: epoch 1 {seconds[0]:.1f} s, epoch 2 {seconds[1]:.1f} s, "
            f"loss after 2 epochs {history.history['loss'][-1]:.4f}",
            flush=True,
        )


if __name__ == "__main__":
    main()
