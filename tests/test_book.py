"""The rendered course (`make book`), opened in a real headless browser.

Built here from a fast-mode run of notebook 00 (the other pages unexecuted), and opened in Debian's
Chromium through Selenium: the index links every notebook, and the executed page shows its figures
(loaded, with a size) and no error. A page from a notebook whose cell fails proves the error check
sees one. Executes a notebook: the `notebooks` mark (make test's notebook step).
"""

import glob
import os
import shutil

import nbformat
import pytest
from helpers import load_script
from nbclient import NotebookClient

ROOT = os.path.join(os.path.dirname(__file__), os.pardir)
SOURCES = sorted(glob.glob(os.path.join(ROOT, "notebooks", "[0-9][0-9]_*.ipynb")))
book = load_script("book")

pytestmark = pytest.mark.notebooks
ERROR = "Traceback (most recent call last)"


def _execute(nb, folder, allow_errors=False):
    NotebookClient(nb, timeout=600, allow_errors=allow_errors, resources={"metadata": {"path": str(folder)}}).execute()
    return nb


@pytest.fixture(scope="module")
def browser():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    driver_path, chromium = shutil.which("chromedriver"), shutil.which("chromium")
    assert driver_path and chromium, "install Debian's chromium and chromium-driver (make setup does, as root)"
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(driver_path), options=options)
    yield driver
    driver.quit()


def _images(driver):
    return driver.execute_script(
        "return Array.from(document.images).map(i => [i.complete, i.naturalWidth, i.naturalHeight]);"
    )


def test_the_book_shows_the_figures_and_no_error(tmp_path, browser):
    first = tmp_path / os.path.basename(SOURCES[0])
    nbformat.write(_execute(nbformat.read(SOURCES[0], as_version=4), tmp_path), first)
    index = book.build([str(first), *SOURCES[1:]], str(tmp_path / "book"))

    browser.get("file://" + os.path.abspath(index))
    links = [a.get_attribute("href") for a in browser.find_elements("tag name", "a")]
    assert [os.path.basename(link) for link in links] == [
        os.path.splitext(os.path.basename(p))[0] + ".html" for p in SOURCES
    ]
    browser.get(links[0])
    assert browser.title and "00" in browser.find_element("tag name", "h1").text
    images = _images(browser)
    assert len(images) >= 2, "notebook 00 draws two figures"
    assert all(complete and width > 0 and height > 0 for complete, width, height in images), images
    assert ERROR not in browser.find_element("tag name", "body").text


def test_a_failing_cell_shows_on_its_page(tmp_path, browser):
    nb = nbformat.v4.new_notebook(
        cells=[
            nbformat.v4.new_markdown_cell("# 99 · A broken notebook\n\n**After it you will be able to:** see errors."),
            nbformat.v4.new_code_cell("raise ValueError('broken on purpose')"),
        ]
    )
    path = tmp_path / "99_broken.ipynb"
    nbformat.write(_execute(nb, tmp_path, allow_errors=True), path)
    book.build([str(path)], str(tmp_path / "book"))
    browser.get("file://" + str(tmp_path / "book" / "99_broken.html"))
    text = browser.find_element("tag name", "body").text
    assert ERROR in text and "broken on purpose" in text


def test_build_refuses_what_is_not_there(tmp_path):
    with pytest.raises(ValueError, match="notebooks"):
        book.build([], str(tmp_path))
    with pytest.raises(FileNotFoundError, match="missing.ipynb"):
        book.build([str(tmp_path / "missing.ipynb")], str(tmp_path))
