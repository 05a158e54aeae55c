"""The figures, for grayscale and RGB images of several sizes: written as PNG, with the colours kept."""

import matplotlib.pyplot as plt
import numpy as np
import pytest

from tlkeras import plots
from tlkeras.models import build_conv_autoencoder


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
