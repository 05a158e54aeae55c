"""The main job: the whole transfer-learning story on real data, as a report folder.

Pretrain (or reuse) the autoencoder, show what it learned, extract and freeze
its encoder, train heads and fine-tune with few labels, compare with training
from scratch, and write `report.md`, `results.json`, `results.csv` and PNG
plots into the output folder.
"""

import dataclasses
import os
import platform
import time

import keras
import numpy as np

from tlkeras import data, plots
from tlkeras.experiments import (
    STRATEGIES,
    PretrainConfig,
    TransferConfig,
    label_efficiency,
    markdown_table,
    pretrain_autoencoder,
    summarize,
    write_results,
)
from tlkeras.models import build_classifier
from tlkeras.precision import use_mixed_precision
from tlkeras.saving import write_text
from tlkeras.transfer import extract_encoder, freeze, trainable_report


@dataclasses.dataclass(frozen=True)
class DemoOptions:
    """Everything the demo can be told; `tlkeras demo --help` documents each."""

    dataset: str = "fashion_mnist"
    target: str | None = None
    labels_per_class: tuple = (1, 10)
    strategies: tuple = STRATEGIES
    seeds: int = 5
    seed: int = 0
    pretrain_epochs: int = 8
    pretrain_images: int | None = None
    steps: int = 300
    test_images: int | None = None
    output: str = os.path.join("runs", "demo")
    cache_dir: str | None = None
    precision: str = "float32"
    fast: bool = False

    def resolved(self):
        """The options with fast mode applied: a small but complete run for CI."""
        if not self.fast:
            return self
        return dataclasses.replace(
            self,
            seeds=min(self.seeds, 2),
            pretrain_epochs=1,
            pretrain_images=min(self.pretrain_images or 6000, 6000),
            steps=min(self.steps, 30),
            test_images=min(self.test_images or 1000, 1000),
        )


def _say(message):
    print(message, flush=True)


def run_demo(options=DemoOptions(), command=None):
    """Run the demo and return `(summary rows, output folder)`.

    Args:
        options: a `DemoOptions`.
        command: the command line that started it, recorded in `results.json`.
    """
    options = options.resolved()
    previous_policy = use_mixed_precision(options.precision)
    try:
        return _run(options, command)
    finally:
        use_mixed_precision(previous_policy)


def _run(options, command):
    target = options.target or options.dataset
    started = time.perf_counter()
    _say(f"[1/5] Loading {options.dataset} (unlabeled images for pretraining) and {target} (labels)")
    (x_source, _), (x_source_test, _) = data.load_dataset(options.dataset)
    (x_train, y_train), (x_test, y_test) = data.load_dataset(target)
    if options.test_images:
        x_test, y_test = x_test[: options.test_images], y_test[: options.test_images]
    if x_train.shape[1:] != x_source.shape[1:]:
        raise ValueError(
            f"`target` images have shape {x_train.shape[1:]}, but the encoder is pretrained on "
            f"{options.dataset} images of shape {x_source.shape[1:]}."
        )

    config = PretrainConfig(
        dataset=options.dataset,
        epochs=options.pretrain_epochs,
        max_images=options.pretrain_images,
        seed=options.seed,
    )
    _say(f"[2/5] Pretraining the conv autoencoder on {options.pretrain_images or len(x_source)} unlabeled images")
    pretrained = pretrain_autoencoder(config, cache_dir=options.cache_dir, images=x_source, verbose="auto")
    _say(
        f"      {'reused the cached' if pretrained.cached else 'trained a new'} autoencoder "
        f"({pretrained.seconds:.0f} s of training){': ' + pretrained.path if pretrained.path else ''}"
    )
    out = options.output
    os.makedirs(out, exist_ok=True)
    plots.plot_history(
        pretrained.history, title="Autoencoder pretraining (MSE)", path=os.path.join(out, "pretrain_loss.png")
    )
    shown = x_source_test[:10]
    plots.plot_reconstructions(
        shown,
        pretrained.autoencoder.predict(shown, verbose=0),
        n=10,
        path=os.path.join(out, "reconstructions.png"),
    )
    reconstruction_mse = float(
        np.mean((pretrained.autoencoder.predict(x_source_test[:2000], verbose=0) - x_source_test[:2000]) ** 2)
    )

    _say("[3/5] Extracting and freezing the encoder, a new head on top:")
    num_classes = int(y_train.max()) + 1
    head_demo = build_classifier(freeze(extract_encoder(pretrained.autoencoder)), num_classes)
    report = trainable_report(head_demo)
    _say(str(report))

    _say(
        f"[4/5] Label-efficiency sweep on {target}: {list(options.labels_per_class)} labels per class, "
        f"{list(options.strategies)}, {options.seeds} seeds"
    )
    transfer_config = TransferConfig(steps=options.steps)
    runs = label_efficiency(
        pretrained.autoencoder,
        (x_train, y_train),
        (x_test, y_test),
        labels_per_class=options.labels_per_class,
        strategies=options.strategies,
        seeds=tuple(range(options.seed, options.seed + options.seeds)),
        config=transfer_config,
    )
    summary = summarize(runs)

    _say(f"[5/5] Writing the report to {out}/")
    configuration = {
        "options": {k: list(v) if isinstance(v, tuple) else v for k, v in dataclasses.asdict(options).items()},
        "pretrain": config.to_dict(),
        "transfer": transfer_config.to_dict(),
        "backend": keras.backend.backend(),
        "dtype_policy": options.precision,
        "keras": keras.__version__,
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, {platform.system()}",
        "command": command,
        "pretrain_seconds": pretrained.seconds,
        "reconstruction_mse": reconstruction_mse,
    }
    write_results(out, runs, configuration)
    plots.plot_label_efficiency(
        summary,
        title=f"{options.dataset} encoder -> {target}",
        path=os.path.join(out, "label_efficiency.png"),
    )
    write_text(
        os.path.join(out, "report.md"),
        _report(options, target, summary, pretrained, reconstruction_mse, started),
    )
    table = markdown_table(summary)
    _say(table)
    return summary, out


def _verdicts(summary):
    cell = {(r["strategy"], r["labels_per_class"]): r for r in summary}
    lines = []
    for n in sorted({r["labels_per_class"] for r in summary}):
        if ("scratch", n) not in cell:
            continue
        base = cell["scratch", n]
        for strategy in dict.fromkeys(r["strategy"] for r in summary):
            if strategy == "scratch" or (strategy, n) not in cell:
                continue
            gain = 100 * (cell[strategy, n]["mean"] - base["mean"])
            noise = 100 * max(cell[strategy, n]["std"], base["std"])
            if abs(gain) <= noise:
                verdict = f"is within seed noise of scratch ({gain:+.1f} points, std up to {noise:.1f})"
            else:
                verdict = f"{'beats' if gain > 0 else 'loses to'} scratch by {abs(gain):.1f} points"
            lines.append(f"- {n} label(s) per class: `{strategy}` {verdict}.")
    return "\n".join(lines)


def _report(options, target, summary, pretrained, reconstruction_mse, started):
    return f"""# tlkeras demo: {options.dataset} encoder -> {target}

Test accuracy (mean ± std over {options.seeds} seeds) with few labels per class. Every strategy
gets the same labeled images, the same augmentation and the same {options.steps} training steps.

{markdown_table(summary)}

What it means:
{_verdicts(summary)}

- `scratch`: the encoder's architecture, randomly initialised, trained end to end.
- `frozen`: the pretrained encoder frozen, a linear head on standardised features.
- `fine_tuned`: the head first (encoder frozen), then everything at a lower learning rate.
- `recommended`: linear probe first, then fine-tuning at a low learning rate (LP-FT).

Pretraining: {options.pretrain_epochs} epoch(s) on {options.pretrain_images or "all"} unlabeled {options.dataset}
training images, {pretrained.seconds:.0f} s ({"reused from the cache" if pretrained.cached else "in this run"}),
test reconstruction MSE {reconstruction_mse:.4f}.

Plots: `pretrain_loss.png`, `reconstructions.png`, `label_efficiency.png`. Every run is in
`results.json` / `results.csv`. Wall time of this demo: {time.perf_counter() - started:.0f} s on
{os.cpu_count()} CPUs, Keras {keras.__version__} on {keras.backend.backend()}.
"""
