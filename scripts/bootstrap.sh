#!/bin/sh
# Set up everything `make test` and `make demo` need, on a fresh Debian machine:
# the virtual environment in .venv/ with tlkeras and its test tools, and the
# offline Fashion-MNIST (Debian package dataset-fashion-mnist) where we may install it.
set -eu
PYTHON=${PYTHON:-python3}
VENV=${VENV:-.venv}
STAMP="$VENV/.tlkeras-installed"

as_root() { [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; }
apt_install() { apt-get install -y -q "$@" >/dev/null || { apt-get update -q >/dev/null && apt-get install -y -q "$@" >/dev/null; }; }

if [ ! -x "$VENV/bin/python" ]; then
  if ! "$PYTHON" -m venv "$VENV" 2>/dev/null; then
    rm -rf "$VENV"
    if as_root; then
      echo "bootstrap: installing python3-venv (Debian)"
      apt_install python3-venv
      "$PYTHON" -m venv "$VENV"
    else
      echo "bootstrap: '$PYTHON -m venv' failed; install python3-venv (sudo apt-get install python3-venv)" >&2
      exit 1
    fi
  fi
fi
# uv installs the same releases as pip, several times faster (downloads in parallel, a shared cache in
# ~/.cache/uv: docs/benchmarks.md), looking where pip is told to look for wheels (find-links), and
# compiling the bytecode as pip does (without it every first import compiles, in each test pass); pip
# does it where uv cannot be had or fails.
install() {
  links=""
  for link in ${PIP_FIND_LINKS:-$("$VENV/bin/python" -m pip config get global.find-links 2>/dev/null || true)}; do
    links="$links --find-links $link"
  done
  { "$VENV/bin/python" -m uv --version >/dev/null 2>&1 || "$VENV/bin/python" -m pip install -q uv; } &&
    "$VENV/bin/python" -m uv pip install --python "$VENV/bin/python" -q --compile-bytecode $links "$@" ||
    { echo "bootstrap: uv failed, installing with pip"; "$VENV/bin/python" -m pip install -q "$@"; }
}
# The exact versions of requirements.lock (hashes checked), the ones results/ was measured with
# (`make lock` updates it from pyproject.toml), then tlkeras itself on top of them.
if [ ! -f "$STAMP" ] || [ pyproject.toml -nt "$STAMP" ] || [ requirements.lock -nt "$STAMP" ]; then
  install --require-hashes -r requirements.lock
  install --no-deps -e .
  touch "$STAMP"
fi
# PyTorch, when the tests are to run on it too. 2.13.0 is pinned: on the project's machines its CPU
# build lies on disk (pip's find-links); elsewhere a large CUDA build may come (skip it:
# TEST_BACKENDS="tensorflow jax").
case " ${TEST_BACKENDS:-} " in
  *" torch "*) "$VENV/bin/python" -c "import torch" 2>/dev/null || install "torch==2.13.0" ;;
esac

debian_dir=/usr/share/datasets/fashion-mnist
keras_dir="${KERAS_HOME:-$HOME/.keras}/datasets/fashion-mnist"
have_data() { for d in "$debian_dir" "$keras_dir" ${TLKERAS_DATA_DIR:+"$TLKERAS_DATA_DIR"}; do
  [ -f "$d/train-images-idx3-ubyte.gz" ] && [ -f "$d/t10k-labels-idx1-ubyte.gz" ] && return 0; done; return 1; }
if ! have_data; then
  if as_root; then
    echo "bootstrap: installing Fashion-MNIST (Debian package dataset-fashion-mnist)"
    apt_install dataset-fashion-mnist
  else
    echo "bootstrap: Fashion-MNIST is not on disk. Run 'sudo apt-get install dataset-fashion-mnist'," >&2
    echo "  set TLKERAS_DATA_DIR to a folder holding its four idx .gz files, or stay online:" >&2
    echo "  tlkeras.data.load_fashion_mnist() then downloads it into the Keras cache." >&2
  fi
fi

# Headless Chromium for the rendered-course test (tests/test_book.py), from Debian's packages.
if ! command -v chromedriver >/dev/null 2>&1; then
  if as_root; then
    echo "bootstrap: installing chromium and chromium-driver (Debian)"
    apt_install chromium chromium-driver
  else
    echo "bootstrap: tests/test_book.py needs Chromium: sudo apt-get install chromium chromium-driver" >&2
  fi
fi
