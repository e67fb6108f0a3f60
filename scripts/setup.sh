#!/usr/bin/env bash
# Creates .venv (if missing) with the tested versions and keras-nasnet installed in editable mode.
# As root on Debian, also installs what some tests use when it is missing: `chromium` (the
# headless report test) and `dataset-fashion-mnist` (the full Fashion-MNIST, read from
# /usr/share/datasets/fashion-mnist by `--dataset fashion_mnist`); without root or apt those
# tests skip and everything else works.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
missing=()
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
[ -f /usr/share/datasets/fashion-mnist/t10k-labels-idx1-ubyte.gz ] || missing+=(dataset-fashion-mnist)
if [ ${#missing[@]} -gt 0 ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    apt_install() { DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "$@" >/dev/null 2>&1; }
    for package in "${missing[@]}"; do
        (apt_install "$package" || { apt-get update >/dev/null 2>&1 && apt_install "$package"; }) \
            || echo "setup.sh: could not install $package; the tests that need it will skip" >&2
    done
fi
if [ ! -x .venv/bin/python ]; then
    "$PYTHON" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --disable-pip-version-check --upgrade pip
.venv/bin/python -m pip install --quiet --disable-pip-version-check -r requirements/tested.txt -e ".[test]"
