"""The figures, for grayscale and RGB images of several sizes: written as PNG, with the colours kept."""

import matplotlib.pyplot as plt
import numpy as np
import pytest

from tlkeras import plots
from tlkeras.models import build_conv_autoencoder
from tlkeras.study.demo_plan import TASKS  # with the built-in tasks registered


@pytest.mark.parametrize("shape", [(28, 28, 1), (32, 32, 3), (64, 64, 3), (96, 96, 3)])
def test_reconstructions_and_filters_of_any_size_and_colour(tmp_path, shape):
    rng = np.random.default_rng(0)
    x = rng.random((4, *shape)).astype("float32")
    ae = build_conv_autoencoder(shape, filters=(4, 8), latent_dim=8)
    assert ae.output_shape[1:] == shape
    x_hat = ae.predict(x, verbose=0)
    fig = plots.plot_reconstructions(x, x_hat, n=4, path=tmp_path / "r.png")
    assert (tmp_path / "r.png").stat().st_size > 0
    shown = fig.axes[0].images[0].get_array()
    assert shown.shape == shape[:2] + ((3,) if shape[-1] == 3 else ())
    np.testing.assert_allclose(np.asarray(shown), x[0] if shape[-1] == 3 else x[0, ..., 0], atol=1e-6)
    plt.close(fig)
    conv = ae.get_layer("encoder").get_layer("encoder_block1_conv")
    fig = plots.plot_filters(conv, path=tmp_path / "f.png")
    first = np.asarray(fig.axes[0].images[0].get_array())
    assert (tmp_path / "f.png").stat().st_size > 0 and len(fig.axes[0].images) == 1
    if shape[-1] == 3:  # RGB filters in colour, each scaled to [0, 1]
        assert first.shape == (3, 3, 3) and first.min() == 0 and abs(first.max() - 1) < 1e-6
    else:
        assert first.shape == (3, 3)
    plt.close(fig)


def test_the_map_draws_one_panel_per_task_each_in_its_unit(tmp_path):
    rows = [
        {
            "setting": "in_domain",
            "labels_per_class": 1,
            "strategy": s,
            "gain": g,
            "low": g - 0.03,
            "high": g + 0.03,
            "verdict": v,
        }
        for s, g, v in (("neighbourhood", 0.07, "wins"), ("neighbourhood_pixels", 0.01, "inconclusive"))
    ]
    clustering = [
        {
            "features": "autoencoder",
            "method": "kmeans",
            "metric": m,
            "gain": 0.02,
            "low": 0.01,
            "high": 0.03,
            "verdict": "wins",
        }
        for m in ("accuracy", "nmi")
    ]
    generative = {"images": 100, "ratio": 0.4, "low": 0.3, "high": 0.5, "verdict": "wins"}
    panels = [
        plots.classification_panel(rows),
        *TASKS["clustering"].panels(clustering),
        *TASKS["generative"].panels([generative]),
    ]
    fig = plots.plot_map(panels, path=tmp_path / "map.png")
    titles = [ax.get_title(loc="left") for ax in fig.axes]
    assert titles == [
        "Classification: gain over scratch",
        "Clustering: accuracy gain over pixels",
        "Clustering: nmi gain over pixels",
        "Generation: fine-tuned MSE / scratch MSE",
    ]
    assert [ax.get_xlabel() for ax in fig.axes] == ["accuracy points", "accuracy", "nmi", "ratio (below 1: it pays)"]
    # The generation panel's reference line is 1 (no change in a ratio), the others' 0.
    assert [ax.lines[-1].get_xdata()[0] for ax in fig.axes] == [0.0, 0.0, 0.0, 1.0]
    # Nothing is cut off: the title and every panel lie inside the figure.
    renderer = fig.canvas.get_renderer()
    box = fig.bbox
    for artist in [fig._suptitle, *fig.axes]:
        extent = artist.get_window_extent(renderer)
        assert extent.x0 >= box.x0 - 1 and extent.x1 <= box.x1 + 1 and extent.y1 <= box.y1 + 1
    assert (tmp_path / "map.png").stat().st_size > 0
    plt.close(fig)
