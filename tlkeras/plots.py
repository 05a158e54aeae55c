"""Matplotlib figures the course and the demo show, each saved as PNG on request.

Every function returns the `matplotlib.figure.Figure` and, given `path`,
saves it there atomically (the report folder never holds half a PNG).

Importing it leaves matplotlib's backend alone (the command line picks "Agg").
"""

import keras
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.patches import Patch

from tlkeras.saving import atomic_path


def _finish(fig, path):
    fig.tight_layout()
    if path is not None:
        with atomic_path(path) as tmp:
            fig.savefig(tmp, dpi=110, format="png")
    return fig


def plot_history(history, metrics=("loss",), title=None, phase_boundary=None, path=None):
    """Training curves: each metric and its `val_` twin against the epoch.

    Args:
        history: a `History`, a `FineTuneHistory` or a dict of lists.
        metrics: metric names to plot, one panel each. Defaults to `("loss",)`.
        title: figure title.
        phase_boundary: epoch where a second training phase starts (a dashed
            line); taken from a `FineTuneHistory` when not given.
        path: where to save the PNG, or `None`.
    """
    if phase_boundary is None and getattr(history, "fine_tune", None) is not None:
        phase_boundary = history.head_epochs
    values = history.history if hasattr(history, "history") else history
    fig, axes = plt.subplots(1, len(metrics), figsize=(4.5 * len(metrics), 3.2), squeeze=False)
    for ax, metric in zip(axes[0], metrics, strict=True):
        for key, style in ((metric, "-"), (f"val_{metric}", "--")):
            if key in values:
                ax.plot(np.arange(1, len(values[key]) + 1), values[key], style, label=key)
        if phase_boundary:
            ax.axvline(phase_boundary + 0.5, color="grey", linestyle=":", label="unfreeze")
        ax.set_xlabel("epoch")
        ax.set_ylabel(metric)
        ax.legend()
    if title:
        fig.suptitle(title)
    return _finish(fig, path)


def plot_reconstructions(originals, reconstructions, n=8, title=None, path=None):
    """Originals (top row) above their reconstructions (bottom row)."""
    n = min(n, len(originals))
    fig, axes = plt.subplots(2, n, figsize=(1.3 * n, 2.9), squeeze=False)
    for i in range(n):
        for row, images in enumerate((originals, reconstructions)):
            ax = axes[row, i]
            image = np.asarray(images[i])
            ax.imshow(image[..., 0] if image.shape[-1] == 1 else image, cmap="gray", vmin=0, vmax=1)
            ax.axis("off")
    axes[0, 0].set_title("original", fontsize=8, loc="left")
    axes[1, 0].set_title("reconstruction", fontsize=8, loc="left")
    if title:
        fig.suptitle(title)
    return _finish(fig, path)


def plot_label_efficiency(summary, title=None, path=None):
    """Accuracy against labels per class (log axis), one line per strategy, std error bars.

    Args:
        summary: rows `{"strategy", "labels_per_class", "mean", "std"}` (accuracy
            as a fraction), e.g. `tlkeras.study.statistics.summarize(runs)`.
    """
    fig, ax = plt.subplots(figsize=(6, 4))
    for strategy in dict.fromkeys(row["strategy"] for row in summary):
        rows = sorted((r for r in summary if r["strategy"] == strategy), key=lambda r: r["labels_per_class"])
        ax.errorbar(
            [r["labels_per_class"] for r in rows],
            [100 * r["mean"] for r in rows],
            yerr=[100 * r["std"] for r in rows],
            marker="o",
            capsize=3,
            label=strategy,
        )
    ax.set_xscale("log")
    budgets = sorted({r["labels_per_class"] for r in summary})
    ax.set_xticks(budgets, [str(n) for n in budgets])
    ax.minorticks_off()
    ax.set_xlabel("labels per class")
    ax.set_ylabel("test accuracy (%)")
    ax.grid(True, alpha=0.3)
    ax.legend()
    if title:
        ax.set_title(title)
    return _finish(fig, path)


def plot_filters(conv_layer, max_filters=32, title=None, path=None):
    """Each filter of a Conv2D layer as a small image.

    A first layer on RGB images shows its filters in colour (each filter scaled to [0, 1] on its
    own); any other layer shows each filter's first input channel (blue negative, red positive).
    """
    kernel = keras.ops.convert_to_numpy(conv_layer.kernel)
    count = min(max_filters, kernel.shape[-1])
    cols = min(8, count)
    rows = int(np.ceil(count / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(1.1 * cols, 1.1 * rows), squeeze=False)
    for i, ax in enumerate(axes.flat):
        ax.axis("off")
        if i < count and kernel.shape[2] == 3:
            rgb = kernel[:, :, :, i]
            ax.imshow((rgb - rgb.min()) / max(float(np.ptp(rgb)), 1e-12))
        elif i < count:
            ax.imshow(kernel[:, :, 0, i], cmap="coolwarm")
    if title:
        fig.suptitle(title)
    return _finish(fig, path)


def plot_map(rows, generative=None, clustering=(), path=None):
    """Where it pays off: each setting, budget and strategy's gain over scratch with its 95 % CI.

    Args:
        rows: `tlkeras.study.statistics.compare_with_scratch` rows (gains as fractions).
        generative: optional `tlkeras.study.generative.summarize_generative` row, drawn
            as its MSE reduction `1 - ratio` in percent.
        clustering: optional `tlkeras.study.clustering.compare_features` rows, drawn as
            the gain over the same recipe on pixels, in points of accuracy or NMI.
    """
    labels, gains, errors, colours = [], [], [[], []], []
    colour = {"wins": "tab:green", "loses": "tab:red"}

    def bar(label, gain, low, high, verdict):
        low, high = (low, high) if not np.isnan(low) else (gain, gain)
        labels.append(label)
        gains.append(100 * gain)
        errors[0].append(100 * (gain - low))
        errors[1].append(100 * (high - gain))
        colours.append(colour.get(verdict, "tab:grey"))

    for r in rows:
        bar(
            f"{r['setting']} {r['labels_per_class']}/class {r['strategy']}",
            r["gain"],
            r["low"],
            r["high"],
            r["verdict"],
        )
    for r in clustering:
        label = f"clustering {r['features']} vs {r['baseline']} ({r['method']}, {r['metric']})"
        bar(label, r["gain"], r["low"], r["high"], r["verdict"])
    if generative:  # drawn as the MSE cut, 1 - ratio: its interval flips
        g = generative
        bar(f"generative ({g['images']} images): MSE cut, %", 1 - g["ratio"], 1 - g["high"], 1 - g["low"], g["verdict"])
    fig, ax = plt.subplots(figsize=(7.5, 0.35 * len(labels) + 1.5))
    positions = np.arange(len(labels))[::-1]
    ax.barh(positions, gains, xerr=errors, color=colours, capsize=3)
    ax.set_yticks(positions, labels, fontsize=8)
    ax.axvline(0, color="black", linewidth=0.8)
    ax.set_xlabel("gain over the baseline, points (bars: 95 % CI)")
    ax.set_title("Where learning from unlabeled images pays off")
    legend = [
        Patch(color=c, label=v) for v, c in (("wins", "tab:green"), ("inconclusive", "tab:grey"), ("loses", "tab:red"))
    ]
    ax.legend(handles=legend, fontsize=7, loc="best")
    return _finish(fig, path)
