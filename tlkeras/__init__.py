"""tlkeras: transfer learning with a convolutional autoencoder, in Keras 3.

Modules: `data` (offline datasets, sampling), `models` (autoencoder and
classifier builders), `transfer` (extract, freeze, unfreeze, fine-tune),
`saving` (atomic save, checked load). `fast_mode()` reads `$TLKERAS_FAST`, the switch of
the quick runs CI makes of the notebooks and the demo. Importing tlkeras starts Keras' backend
without TensorFlow's start-up lines (`tlkeras._quiet`), so import it before Keras.
"""

from tlkeras import _quiet, data, models, saving, transfer  # noqa: F401 (_quiet first: it starts the backend)
from tlkeras._validation import fast_mode
from tlkeras.models import build_classifier, build_conv_autoencoder
from tlkeras.transfer import extract_encoder, fine_tune, freeze, trainable_report, unfreeze

__version__ = "0.1.0"

__all__ = [
    "build_classifier",
    "build_conv_autoencoder",
    "data",
    "extract_encoder",
    "fast_mode",
    "fine_tune",
    "freeze",
    "models",
    "saving",
    "trainable_report",
    "transfer",
    "unfreeze",
]
