"""Generative transfer (the source article's "fine-tuning for generation tasks"), measured.

The pretrained autoencoder, fine-tuned to denoise a handful of images of another
dataset, against the same architecture trained on them from scratch for the same
steps: test MSE of both per seed, and their paired ratio with a 95 % CI.
"""

import math

import keras
import numpy as np

from tlkeras._validation import check_images, check_model, check_number, check_seeds
from tlkeras.plots import Panel
from tlkeras.study.statistics import paired_comparison
from tlkeras.study.tasks import register_task
from tlkeras.training import compile_model, fit_or_raise
from tlkeras.transfer import fresh_copy

GENERATIVE_STEPS = 300  # Adam steps of each arm of the generative comparison (scratch, fine-tuned)


def denoising_mse(autoencoder, images, noise_stddev=0.2, seed=0):
    """MSE between the clean `images` and the autoencoder's output on a noisy copy (fixed noise per `seed`)."""
    noisy = np.clip(images + np.random.default_rng(seed).normal(0, noise_stddev, images.shape), 0, 1).astype("float32")
    return float(np.mean((autoencoder.predict(noisy, batch_size=512, verbose=0) - images) ** 2))


def generative_transfer(
    autoencoder,
    train,
    test,
    seeds=(0, 1, 2),
    images_per_seed=100,
    steps=GENERATIVE_STEPS,
    batch_size=32,
    learning_rate=1e-3,
    noise_stddev=0.2,
    max_test_images=None,
):
    """Fine-tune `autoencoder` to denoise `images_per_seed` training images, against scratch; per-seed test MSE.

    Both arms, the pretrained autoencoder and a `fresh_copy` of it (same architecture,
    new weights), train `steps` Adam steps at `learning_rate` on the same images
    (drawn per seed) with the autoencoder's own input noise, and are scored on
    the same noisy test images.

    Args:
        autoencoder: the pretrained autoencoder (it is copied, never changed).
        train, test: `(x, y)` pairs of the new dataset; labels are ignored.
        seeds: one paired run per seed. Defaults to `(0, 1, 2)`.
        images_per_seed: training images, at most 100 in the study. Defaults to `100`.
        steps: gradient steps of each arm. Defaults to `300`.
        batch_size: batch size. Defaults to `32`.
        learning_rate: Adam's learning rate. Defaults to `1e-3`.
        noise_stddev: the noise of the test images to denoise. Defaults to `0.2`.
        max_test_images: score on the first N test images only; `None`: all. Defaults to `None`.

    Returns:
        A list of `{"seed", "images", "scratch_mse", "fine_tuned_mse"}`.
    """
    check_model(autoencoder, "autoencoder")
    shape = autoencoder.input_shape[1:]
    x_train = check_images(train[0], "train[0]", expected_shape=shape)
    x_test = check_images(test[0], "test[0]", expected_shape=shape)
    images_per_seed = check_number(images_per_seed, "images_per_seed", 1, len(x_train), integer=True)
    steps = check_number(steps, "steps", 1, integer=True)
    batch_size = check_number(batch_size, "batch_size", 1, integer=True)
    check_number(learning_rate, "learning_rate", 0, math.inf, closed="neither")
    check_number(noise_stddev, "noise_stddev", 0, 1)
    if max_test_images is not None:
        x_test = x_test[: check_number(max_test_images, "max_test_images", 1, integer=True)]
    seeds = check_seeds(seeds)
    results = []
    for seed in seeds:
        picked = x_train[np.random.default_rng(seed).choice(len(x_train), images_per_seed, replace=False)]
        scores = {}
        for arm in ("scratch", "fine_tuned"):
            keras.utils.set_random_seed(seed)
            model = fresh_copy(autoencoder, keep_weights=arm != "scratch")
            compile_model(model, "mse", learning_rate)
            per_epoch = max(1, math.ceil(images_per_seed / batch_size))
            index = np.random.default_rng(seed).integers(0, images_per_seed, per_epoch * batch_size)
            fit_or_raise(
                model,
                picked[index],
                picked[index],
                batch_size=batch_size,
                epochs=math.ceil(steps / per_epoch),
                verbose=0,
            )
            scores[arm] = denoising_mse(model, x_test, noise_stddev, seed=1234)
        results.append(
            {
                "seed": int(seed),
                "images": int(images_per_seed),
                "scratch_mse": scores["scratch"],
                "fine_tuned_mse": scores["fine_tuned"],
            }
        )
    return results


def summarize_generative(results):
    """Mean MSEs and the paired ratio fine-tuned / scratch with its 95 % CI and verdict (`wins`: CI below 1)."""
    ratios = [r["fine_tuned_mse"] / r["scratch_mse"] for r in results]
    comparison = paired_comparison(ratios, reference=1.0, lower_is_better=True)
    return {
        "images": results[0]["images"],
        "scratch_mse": float(np.mean([r["scratch_mse"] for r in results])),
        "fine_tuned_mse": float(np.mean([r["fine_tuned_mse"] for r in results])),
        "ratio": comparison.pop("gain"),
        **comparison,
    }


def _generative_panels(rows):
    return [
        Panel(
            "Generation: fine-tuned MSE / scratch MSE",
            "ratio (below 1: it pays)",
            1.0,
            [(f"denoising {g['images']} images", g["ratio"], g["low"], g["high"], g["verdict"]) for g in rows],
        )
    ]


def _generative_report(rows, options):
    return "\n\n".join(
        f"### generative\n\nThe autoencoder fine-tuned to denoise {g['images']} {options.target} images, against the "
        f"same network trained on them from scratch for the same {options.generative_steps} steps: test MSE from "
        f"scratch {g['scratch_mse']:.4f}, fine-tuned from the autoencoder {g['fine_tuned_mse']:.4f}; ratio "
        f"fine-tuned/scratch {g['ratio']:.2f} (95 % CI [{g['low']:.2f}, {g['high']:.2f}], below 1: it pays): "
        f"**{g['verdict']}**."
        for g in rows
    )


@register_task(
    "generative",
    compare=lambda records: [summarize_generative(records)],
    panels=_generative_panels,
    report=_generative_report,
    sections=lambda records, rows: {"generative": records},
    needs_target=True,
)
def generative_task(context):
    """The autoencoder fine-tuned to denoise a few of `--target`'s images, against scratch."""
    options = context.options
    print(
        f"      generative: denoising {options.target} images, fine-tuned from the autoencoder vs from scratch",
        flush=True,
    )
    return generative_transfer(
        context.pretrained.autoencoder,
        *context.study.target_data,
        seeds=context.seeds,
        steps=options.generative_steps,
        noise_stddev=context.config.noise_stddev or 0.2,
        max_test_images=options.max_test_images,
    )
