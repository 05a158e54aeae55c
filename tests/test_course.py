"""The nbgrader round trip, in a temporary course folder, for every notebook.

Each test releases one notebook with `nbgrader generate_assignment` (it must equal the committed
student version), then autogrades the submissions: the solution (full marks on every test cell, no
cell fails), the untouched student version (0 points on every test cell, no crash), and wrong answers
(`WRONG_ANSWERS`: the library's shortcut for the exercises tlkeras could answer, and a plausible
mistake; each loses exactly the points of its exercise). Autograding executes the notebooks, so
these tests are the `notebooks` mark: `make test` runs them in its notebook step, in fast mode,
instead of nbmake on the first backend (`pytest -m notebooks tests/test_course.py`).
"""

import filecmp
import os

import nbformat
import pytest
from helpers import load_script

course = load_script("course")

pytestmark = pytest.mark.notebooks


def _errors(path):
    cells = nbformat.read(path, as_version=4).cells
    return [
        (i, output.get("ename"), output.get("evalue"))
        for i, cell in enumerate(cells)
        if cell.cell_type == "code"
        for output in cell.outputs
        if output.output_type == "error"
    ]


def _graded_tests(notebook):
    """The grade ids of the autograded test cells of a source notebook."""
    cells = nbformat.read(notebook, as_version=4).cells
    grading = [cell.metadata.get("nbgrader", {}) for cell in cells if cell.cell_type == "code"]
    return {meta["grade_id"] for meta in grading if meta.get("grade") and not meta.get("solution")}


# Answers that must earn none of an exercise's points: the library's shortcut, where tlkeras has the answer,
# and a plausible wrong answer. `{notebook prefix: {grade id: [answers in place of the solution]}}`. The k-th
# submission of a notebook gives every exercise listed its k-th answer, so one execution covers all of them;
# it must lose exactly the points of the exercises it answered, and no other.
WRONG_ANSWERS = {
    "00": {
        # the diagonal left in: every class is at distance 0 from itself
        "ex00-class-means": [
            "class_means = np.stack([x_train[y_train == c].mean(axis=0) for c in range(10)])\n"
            "flat = class_means.reshape(10, -1)\n"
            "distances = np.linalg.norm(flat[:, None] - flat[None], axis=-1)\n"
            "a, b = np.unravel_index(np.argmin(distances), distances.shape)\n"
            "closest_pair = (int(min(a, b)), int(max(a, b)))\n"
        ],
        "ex00-stratified": [
            "    from tlkeras.data import sample_per_class\n\n"
            "    return sample_per_class(np.arange(len(labels)), labels, n, seed)[0]\n",
            # the global NumPy generator: two calls with the same seed differ
            "    return np.concatenate([np.random.choice(np.flatnonzero(labels == c), n, replace=False) "
            "for c in np.unique(labels)])\n",
        ],
    },
    "01": {
        "ex01-plain-encoder": [
            'my_encoder = autoencoder.get_layer("encoder")\n',
            # without padding="same": 28 -> 26 -> 13 -> 11 -> 5, another shape and parameter count
            "inputs = keras.Input((28, 28, 1))\n"
            'x = layers.MaxPooling2D(2)(layers.Conv2D(32, 3, activation="relu")(inputs))\n'
            'x = layers.MaxPooling2D(2)(layers.Conv2D(64, 3, activation="relu")(x))\n'
            "my_encoder = keras.Model(inputs, layers.Dense(LATENT_DIM)(layers.Flatten()(x)))\n",
        ],
        # a sum over pixels and images, not their mean
        "ex01-mse": ['    return float(np.sum((np.asarray(x, "float64") - np.asarray(x_hat, "float64")) ** 2))\n'],
        # one grey level for every pixel instead of the mean image
        "ex01-mean-image": [
            'mean_image = x_unlabeled.mean(dtype="float64")\n'
            "mean_image_mse = float(np.mean((x_check - mean_image) ** 2))\n"
            "ratio = mse_after / mean_image_mse\n"
        ],
    },
    "02": {
        "ex02-extract": [
            "    from tlkeras.transfer import fresh_copy\n\n    return fresh_copy(model, keep_weights=True)\n",
            # the same layers with new, random weights: the pretraining is lost
            "    return keras.models.clone_model(model)\n",
        ],
        # the codes' scores passed as the baseline's
        "ex02-pixels": ["pixel_scores = code_scores\n"],
        # the image itself is its own nearest neighbour, at distance 0
        "ex02-nearest": ["    return int(np.argmin(np.linalg.norm(codes - codes[i], axis=1)))\n"],
    },
    "03": {
        # the belief the exercise tests: that `training=True` still switches a frozen BatchNorm to batch statistics
        "ex03-predict-bn": ["training_flag_changes_output = True\n"],
        "ex03-freeze": [
            "    freeze(model)\n    return len(model.trainable_weights), len(model.non_trainable_weights)\n",
            # forgot to freeze: the counts of a trainable encoder
            "    return len(model.trainable_weights), len(model.non_trainable_weights)\n",
        ],
        "ex03-classifier": [
            '    model = build_classifier(encoder, num_classes, normalize="layer", dropout=dropout)\n'
            '    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])\n'
            "    return model\n",
            # logits out of the last layer, read by a loss that expects probabilities
            "    inputs = keras.Input(shape=encoder.input_shape[1:])\n"
            "    codes = keras.layers.LayerNormalization()(encoder(inputs))\n"
            "    model = keras.Model(inputs, keras.layers.Dense(num_classes)(keras.layers.Dropout(dropout)(codes)))\n"
            '    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])\n'
            "    return model\n",
        ],
    },
    "04": {
        "ex04-unfreeze": [
            "    from tlkeras.transfer import freeze, unfreeze\n\n"
            "    freeze(classifier)\n"
            "    unfreeze(classifier, from_layer=layer_name)\n"
            "    classifier.compile(keras.optimizers.Adam(learning_rate), loss=classifier.loss, metrics=['accuracy'])"
            "\n",
            # not compiled again: the optimizer of phase 1 (Adam at 1e-3) keeps training
            '    encoder = classifier.get_layer("encoder")\n'
            "    encoder.trainable = True\n"
            "    for layer in encoder.layers[: [layer.name for layer in encoder.layers].index(layer_name)]:\n"
            "        layer.trainable = False\n",
        ],
        "ex04-paired": [
            "    from tlkeras.study.statistics import paired_interval as library\n\n"
            "    return library(np.subtract(transfer, scratch))\n",
            # unpaired: each arm's spread on its own, as if the seeds had nothing in common
            '    transfer, scratch = np.asarray(transfer, "float64"), np.asarray(scratch, "float64")\n'
            "    n, gain = len(transfer), transfer.mean() - scratch.mean()\n"
            "    half = stats.t.ppf(0.975, 2 * n - 2) * np.sqrt((transfer.var(ddof=1) + scratch.var(ddof=1)) / n)\n"
            "    return float(gain), float(gain - half), float(gain + half)\n",
        ],
    },
    "05": {
        # the accuracy gains, where the exercise asks for NMI
        "ex05-nmi-gain": [
            'accuracy = {(r["features"], r["seed"]): r["cluster_accuracy"] for r in cluster_rows}\n'
            'seeds = sorted({r["seed"] for r in cluster_rows})\n'
            'nmi_gains = [accuracy["autoencoder", s] - accuracy["pixels", s] for s in seeds]\n'
        ],
    },
    "06": {
        # one draw of the probe's images for every seed: the same difference repeated, not a pair per seed
        "ex06-random-arm": [
            'pretrained_encoder = candidates[f"{PRETRAIN_EPOCHS} epochs"].get_layer("encoder")\n'
            'random_encoder = candidates["random"].get_layer("encoder")\n'
            "gains = [\n"
            "    probe_scores(pretrained_encoder, PROBE_IMAGES)[0] - probe_scores(random_encoder, PROBE_IMAGES)[0]\n"
            "    for seed in SEEDS\n"
            "]\n"
        ],
    },
    "07": {
        # cut at the bottleneck, where the exercise cuts at the last conv block
        "ex07-control": [
            "gains = [\n"
            '    probe_accuracy("supervised", "bottleneck", seed)\n'
            '    - probe_accuracy("reconstruction", "bottleneck", seed)\n'
            "    for seed in SEEDS\n"
            "]\n"
            'verdict = paired_comparison(gains)["verdict"]\n'
        ],
    },
    "08": {
        "ex08-pseudo": [
            "    from tlkeras.study.parts import balanced_confident\n\n"
            "    return balanced_confident(probabilities, per_class)\n",
            # each class's most probable images, also those predicted as another class
            "    indices = np.concatenate(\n"
            '        [np.argsort(-column, kind="stable")[:per_class] for column in probabilities.T]\n'
            "    ).astype(int)\n"
            "    return indices, probabilities.argmax(axis=1)[indices]\n",
        ],
        # the recipe against scratch again (the comparison above), not against its ablation
        "ex08-ablation": [
            'ablation_runs = [r for r in runs if r["strategy"] == "scratch"]\n'
            'arm = {r["seed"]: r for r in ablation_runs}\n'
            'gains = [semi_runs[s]["accuracy"] - arm[s]["accuracy"] for s in SEEDS]\n'
        ],
    },
    "09": {
        # the gap in MSE units, not relative to the first run's MSE
        "ex09-seed-gap": [
            "ae_other_seed = pretrain(one_device_scope, seed=SEED + 1)\n"
            "seed_gap = abs(test_mse(ae_other_seed) - mse_one)\n"
        ],
    },
}


def _submissions(notebook):
    """The wrong submissions of a notebook: `[{grade id: answer}, ...]`, the k-th answer of each exercise."""
    answers = WRONG_ANSWERS.get(os.path.basename(notebook)[:2], {})
    count = max((len(listed) for listed in answers.values()), default=0)
    return [{grade_id: listed[k] for grade_id, listed in answers.items() if k < len(listed)} for k in range(count)]


def _answered(source_path, answers, target):
    """The solution notebook with the solution of each cell `grade id` of `answers` replaced by its answer.

    The code cells after the last autograded test cell are left empty: they earn no point, and a wrong
    submission is executed only to be graded.
    """
    nb = nbformat.read(source_path, as_version=4)
    grading = [cell.metadata.get("nbgrader", {}) for cell in nb.cells]
    last_test = max(i for i, meta in enumerate(grading) if meta.get("grade") and not meta.get("solution"))
    for cell, meta in zip(nb.cells[last_test + 1 :], grading[last_test + 1 :], strict=True):
        if cell.cell_type == "code" and not (meta.get("grade") or meta.get("solution") or meta.get("locked")):
            cell.source = ""
    for grade_id, answer in answers.items():
        [cell] = [c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == grade_id]
        start, end = cell.source.index("### BEGIN SOLUTION"), cell.source.index("### END SOLUTION")
        begin = cell.source.rindex("\n", 0, start) + 1 if "\n" in cell.source[:start] else 0
        after = cell.source.find("\n", end)
        cell.source = cell.source[:begin] + answer + (cell.source[after + 1 :] if after >= 0 else "")
    nbformat.write(nb, target)
    return target


@pytest.mark.parametrize("notebook", course.SOURCES, ids=os.path.basename)
def test_release_and_autograde(notebook, tmp_path):
    name, assignment, tests = os.path.basename(notebook), course.assignment_name(notebook), _graded_tests(notebook)
    root = course.make_course(str(tmp_path / "course"), [notebook])
    released = os.path.join(course.generate(root, assignment), name)
    assert filecmp.cmp(released, os.path.join(course.EXERCISES, name), shallow=False), (
        "the student version is out of date: run `python scripts/course.py release`"
    )

    course.submit(root, "solution", assignment, notebook)
    course.submit(root, "untouched", assignment, released)
    wrong = {f"wrong{k}": answers for k, answers in enumerate(_submissions(notebook), 1)}
    for student, answers in wrong.items():
        course.submit(root, student, assignment, _answered(notebook, answers, str(tmp_path / f"{student}.ipynb")))
    graded = course.autograde(root, assignment)  # every submission, one nbgrader run
    assert graded.keys() == {"solution", "untouched", *wrong}
    assert _errors(graded["solution"]) == [], "the solution notebook runs without an error"
    full = course.scores(root, "solution", assignment)
    assert full.keys() == tests and all(score == maximum > 0 for score, maximum in full.values()), full

    untouched = course.scores(root, "untouched", assignment)
    assert untouched.keys() == tests and all(score == 0 for score, _ in untouched.values()), untouched
    for student, answers in wrong.items():  # each wrong answer loses all of its exercise's points, and no other
        scores = course.scores(root, student, assignment)
        lost = {grade_id: maximum - score for grade_id, (score, maximum) in scores.items() if score != maximum}
        assert lost == {f"{grade_id}-tests": scores[f"{grade_id}-tests"][1] for grade_id in answers}, (student, scores)


def test_every_wrong_answer_replaces_a_solution():
    """A wrong answer names an autograded exercise of its notebook: a renamed grade id cannot drop it silently."""
    for prefix, answers in WRONG_ANSWERS.items():
        [notebook] = [source for source in course.SOURCES if os.path.basename(source).startswith(prefix)]
        assert {f"{grade_id}-tests" for grade_id in answers} <= _graded_tests(notebook), prefix
