"""Which features of the pretrained encoder transfer best with few labels? A linear-probe study.

For raw pixels, a random encoder and the pretrained one (its 64-d bottleneck and
its conv feature maps), fit a logistic regression on n labeled images per class
and score it on the test set. Features are standardised with statistics of the
unlabeled training images, then scaled to a fixed norm (what
`build_classifier(normalize="standard")` does). Cheap: one forward pass per
candidate, so this is also how to choose between pretrained encoders.

Usage: python benchmarks/feature_probes.py [--labels-per-class 1 10] [--num-seeds 5]
"""

import argparse

import keras
import numpy as np
from _machine import describe
from sklearn.linear_model import LogisticRegression

from tlkeras import data
from tlkeras.models import build_conv_autoencoder
from tlkeras.pretraining import PretrainConfig, pretrain_autoencoder
from tlkeras.transfer import extract_encoder


def standardised(train_features, test_features):
    mean, std = train_features.mean(0), train_features.std(0) + 1e-6
    out = []
    for f in (train_features, test_features):
        z = (f - mean) / std
        out.append(z / np.linalg.norm(z, axis=1, keepdims=True) * np.sqrt(z.shape[1]))
    return out


def features(encoder, x, pool=None):
    f = encoder.predict(x, batch_size=512, verbose=0)
    if pool:
        f = keras.ops.convert_to_numpy(keras.layers.AveragePooling2D(pool)(f))
    return f.reshape(len(f), -1)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--labels-per-class", type=int, nargs="+", default=[1, 10])
    parser.add_argument("--num-seeds", type=int, default=5)
    parser.add_argument("--pretrain-epochs", type=int, default=8)
    args = parser.parse_args()
    (x, y), (xt, yt) = data.load_fashion_mnist()
    ae = pretrain_autoencoder(PretrainConfig(epochs=args.pretrain_epochs), images=x, verbose=2).autoencoder
    keras.utils.set_random_seed(0)
    random_ae = build_conv_autoencoder()
    candidates = {
        "pixels": (x.reshape(len(x), -1), xt.reshape(len(xt), -1)),
        "random encoder, bottleneck": tuple(features(extract_encoder(random_ae), v) for v in (x, xt)),
        "pretrained, bottleneck (64)": tuple(features(extract_encoder(ae), v) for v in (x, xt)),
    }
    block1 = extract_encoder(ae, output_layer="encoder_block1_pool")
    candidates["pretrained, block1 pooled 7x7x32"] = tuple(features(block1, v, pool=2) for v in (x, xt))
    block2 = extract_encoder(ae, output_layer="encoder_block2_pool")
    candidates["pretrained, block2 7x7x64"] = tuple(features(block2, v) for v in (x, xt))
    print(f"machine: {describe()}")
    print("| features | " + " | ".join(f"{n} label(s)/class" for n in args.labels_per_class) + " |")
    print("|---|" + "---|" * len(args.labels_per_class))
    for name, (f_train, f_test) in candidates.items():
        f_train, f_test = standardised(f_train, f_test)
        cells = []
        for n in args.labels_per_class:
            scores = []
            for seed in range(args.num_seeds):
                idx, labels = data.sample_per_class(np.arange(len(y)), y, n, seed=seed)
                probe = LogisticRegression(C=0.1, max_iter=3000).fit(f_train[idx], labels)
                scores.append(probe.score(f_test, yt))
            cells.append(f"{100 * np.mean(scores):.1f} ± {100 * np.std(scores):.1f} %")
        print(f"| {name} | " + " | ".join(cells) + " |", flush=True)


if __name__ == "__main__":
    main()
