"""Matplotlib figures the course and the demo show, each saved as PNG on request.

Every function returns the `matplotlib.figure.Figure` and, given `path`,
saves it there atomically (the report folder never holds half a PNG).

Importing it leaves matplotlib's backend alone (the command line picks "Agg").
"""

from typing import NamedTuple

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


class Panel(NamedTuple):
    """One panel of `plot_map`: a task's gains, each bar `(label, value, low, high, verdict)`.

    `reference` is where nothing changes: 0 for a gain, 1 for a ratio.
    """

    title: str
    unit: str
    reference: float
    bars: list


def classification_panel(rows):
    """The map's classification panel from `tlkeras.study.statistics.compare_with_scratch` rows, in accuracy points."""
    bars = [
        (
            f"{r['setting']} {r['labels_per_class']}/class {r['strategy']}",
            100 * r["gain"],
            100 * r["low"],
            100 * r["high"],
            r["verdict"],
        )
        for r in rows
    ]
    return Panel("Classification: gain over scratch", "accuracy points", 0.0, bars)


def plot_map(panels, path=None):
    """Where it pays off: one `Panel` per task, each gain with its 95 % CI in the task's own unit.

    Args:
        panels: `Panel`s, top to bottom (`classification_panel`, and each downstream task's own).

    Returns:
        The figure; saved as PNG at `path` if given.
    """
    colour = {"wins": "tab:green", "loses": "tab:red"}
    panels = [p for p in panels if p.bars]
    heights = [0.45 * len(bars) + 1.1 for *_, bars in panels] or [1.0]
    fig, axes = plt.subplots(
        len(heights), 1, figsize=(8, sum(heights) + 0.6), gridspec_kw={"height_ratios": heights}, squeeze=False
    )
    for ax, (title, unit, reference, bars) in zip(axes[:, 0], panels, strict=False):
        positions = np.arange(len(bars))[::-1]
        for y, (_, value, low, high, verdict) in zip(positions, bars, strict=True):
            low, high = (low, high) if not np.isnan(low) else (value, value)
            ax.errorbar(
                value,
                y,
                xerr=[[value - low], [high - value]],
                fmt="o",
                capsize=4,
                color=colour.get(verdict, "tab:grey"),
            )
        ax.set_yticks(positions, [label for label, *_ in bars], fontsize=8)
        ax.set_ylim(-0.7, len(bars) - 0.3)
        ax.axvline(reference, color="black", linewidth=0.8)
        ax.set_xlabel(unit, fontsize=8)
        ax.set_title(title, fontsize=9, loc="left")
    legend = [
        Patch(color=c, label=v) for v, c in (("wins", "tab:green"), ("inconclusive", "tab:grey"), ("loses", "tab:red"))
    ]
    fig.legend(handles=legend, fontsize=7, loc="upper right", ncol=3)
    fig.suptitle("Where learning from unlabeled images pays off (95 % CIs)", fontsize=10, x=0.02, ha="left")
    fig.tight_layout(rect=(0, 0, 1, 0.97))
    return _finish(fig, path)
