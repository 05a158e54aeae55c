"""Every ```python block of docs/recipes.md runs as written."""

import os
import re

import pytest

RECIPES = os.path.join(os.path.dirname(__file__), os.pardir, "docs", "recipes.md")
BLOCKS = re.findall(r"^## (.+?)$.*?^```python\n(.*?)^```", open(RECIPES, encoding="utf-8").read(), re.M | re.S)


def test_every_recipe_has_code():
    assert len(BLOCKS) >= 6


@pytest.mark.parametrize("title, code", BLOCKS, ids=[title for title, _ in BLOCKS])
def test_recipe_runs(title, code, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    exec(compile(code, f"recipes.md: {title}", "exec"), {"__name__": "__recipe__"})
