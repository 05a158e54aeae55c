"""Build the rendered course: one HTML page per executed notebook and an index page.

nbconvert's HTML export, not Jupyter Book: it needs nothing beyond Jupyter (Jupyter Book 2 brings
a Node.js toolchain), works offline, and embeds every figure in its page (data URIs), so the folder
can be copied anywhere, opened from disk or served as a static site.

Usage:
    python scripts/book.py EXECUTED.ipynb ... --output build/book

`make book` executes the notebooks in full mode first (`make notebooks`); `make test` builds it
from a fast-mode run and opens it in headless Chromium (tests/test_book.py).
"""

import argparse
import html
import os
import sys

import nbformat
from nbconvert import HTMLExporter

from tlkeras.saving import write_text  # atomic writes

INDEX = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<style>body {{ font-family: sans-serif; max-width: 46em; margin: 2em auto; line-height: 1.45; }}
li {{ margin-bottom: 1em; }} .goal {{ color: #444; }}</style></head>
<body><h1>{title}</h1>
<p>Transfer learning with a convolutional autoencoder, in Keras 3: the notebooks of tlkeras, executed.
Each page shows the code, its output and every figure.</p>
<ol>
{items}
</ol></body></html>
"""


def _title_and_goal(nb):
    """The notebook's `# title` and its "After it you will be able to" sentence."""
    first = nb.cells[0].source if nb.cells and nb.cells[0].cell_type == "markdown" else ""
    lines = first.splitlines()
    title = next((line[2:].strip() for line in lines if line.startswith("# ")), "untitled")
    goal = " ".join(first.split("**After it you will be able to:**", 1)[1].split()) if "**After" in first else ""
    return title, goal


def build(notebooks, output, title="tlkeras: the course"):
    """Write `<name>.html` for each notebook and `index.html` into `output`; return the index path."""
    if not notebooks:
        raise ValueError("`notebooks` is empty: give the executed notebooks to render.")
    os.makedirs(output, exist_ok=True)
    exporter = HTMLExporter(template_name="lab")
    items = []
    for path in sorted(notebooks, key=os.path.basename):
        if not os.path.isfile(path):
            raise FileNotFoundError(f"no notebook at {path!r}")
        nb = nbformat.read(path, as_version=4)
        page = os.path.splitext(os.path.basename(path))[0] + ".html"
        body, _ = exporter.from_notebook_node(nb)
        write_text(os.path.join(output, page), body)
        name, goal = _title_and_goal(nb)
        items.append(
            f'<li><a href="{html.escape(page)}">{html.escape(name)}</a>'
            f'<div class="goal">After it you will be able to: {html.escape(goal)}</div></li>'
        )
    index = os.path.join(output, "index.html")
    write_text(index, INDEX.format(title=html.escape(title), items="\n".join(items)))
    return index


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="+", help="executed notebooks (.ipynb)")
    parser.add_argument("--output", default=os.path.join("build", "book"), help="folder of the site")
    args = parser.parse_args(argv)
    print("wrote", build(args.notebooks, args.output))
    return 0


if __name__ == "__main__":
    sys.exit(main())
