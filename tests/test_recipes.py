"""Every ```python block of docs/recipes.md, and the README's quick start, runs as written."""

import os
import re

import keras
import pytest

ROOT = os.path.join(os.path.dirname(__file__), os.pardir)


def _blocks(name):
    text = open(os.path.join(ROOT, name), encoding="utf-8").read()
    return re.findall(r"^##+ (.+?)$.*?^```python\n(.*?)^```", text, re.M | re.S)


RECIPES = _blocks(os.path.join("docs", "recipes.md"))
README = _blocks("README.md")


def _run(title, code, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    exec(compile(code, title, "exec"), {"__name__": "__recipe__"})


def test_every_recipe_has_code():
    assert len(RECIPES) >= 6 and len(README) == 1


@pytest.mark.parametrize("title, code", RECIPES, ids=[title for title, _ in RECIPES])
def test_recipe_runs(title, code, tmp_path, monkeypatch):
    _run(f"recipes.md: {title}", code, tmp_path, monkeypatch)


@pytest.mark.skipif(
    keras.backend.backend() != "tensorflow",
    reason="the quick start pretrains on all 60,000 images: minutes on a CPU with JAX or PyTorch "
    "(docs/benchmarks.md); the recipes above cover the same calls on every backend",
)
def test_readme_quick_start_runs(tmp_path, monkeypatch, capsys):
    [(title, code)] = README
    _run(f"README.md: {title}", code, tmp_path, monkeypatch)
    assert "test accuracy:" in capsys.readouterr().out
