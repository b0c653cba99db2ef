import importlib.util
import os

import numpy as np
import pytest

from pysparsegraph.datasets import shared_data_dir

# The real graphs used by the foundation tests (a subset of ../shared/data).
REAL_GRAPHS = ["cora", "citeseer", "pubmed", "ego-Facebook", "soc-Slashdot0902", "coAuthorsDBLP",
               "delaunay_n17", "usa-road-FLA", "cnr-2000", "uk-2007-05@100000"]


@pytest.fixture(scope="session")
def shared_data():
    root = shared_data_dir()
    if root is None:
        pytest.skip("shared data folder (../shared/data or $PYSPARSEGRAPH_DATA) not found")
    return root


def shared_npz(root, name):
    path = os.path.join(root, name, f"{name}.npz")
    if not os.path.exists(path):
        pytest.skip(f"{path} not present in the shared data folder")
    return path


@pytest.fixture
def rng():
    return np.random.default_rng(20261128)


def load_example(name):
    """Imports ``examples/<name>.py`` of the checkout as a module (skips when the
    examples folder is not beside the tests)."""
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "examples", f"{name}.py")
    if not os.path.exists(path):
        pytest.skip(f"the examples folder is not beside the tests ({path} missing)")
    spec = importlib.util.spec_from_file_location(name, path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod
