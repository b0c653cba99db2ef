"""scikit-learn's generic estimator checks on pysparsegraph.sklearn.

The checks draw their own ``X`` (random matrices of 1 to 150 rows), so they run
on the form of each estimator whose rows are not fixed in advance: ``graph`` is
a builder (:class:`KNNGraph`) that makes the graph over the rows it is given.
That exercises the same validation, propagation, output and naming code as a
fixed graph. The fixed-graph forms (``X`` = the features of exactly
``n_nodes`` rows, or a column of node ids) cannot take the checks' arbitrary
matrices at all; their conventions (clone, get/set_params, set_output,
feature names, pickling, dtype, validation) are tested one by one in
``test_sklearn_estimators.py``.

Checks that cannot hold for a graph estimator, each with its reason:
"""
import pytest

pytest.importorskip("sklearn", reason="scikit-learn is needed for pysparsegraph.sklearn (pip install scikit-learn)")
from sklearn.utils.estimator_checks import parametrize_with_checks  # noqa: E402

from pysparsegraph.sklearn import GraphLabelPropagation, GraphPropagation, KNNGraph, NeighborAggregation  # noqa: E402

SUBSET = ("A node's output depends on its neighbours, i.e. on the other rows: transforming a subset of the rows "
          "builds the graph over that subset only, so the result differs from the same rows of the full batch. "
          "This is what a graph estimator does, not a defect.")

EXPECTED_FAILURES = {
    "GraphPropagation": {"check_methods_subset_invariance": SUBSET},
    "NeighborAggregation": {"check_methods_subset_invariance": SUBSET},
    "GraphLabelPropagation": {
        "check_methods_subset_invariance": SUBSET,
        "check_classifiers_classes": (
            "-1 marks an unlabelled sample (scikit-learn's semi-supervised convention), but this check uses -1 as "
            "a class; scikit-learn exempts its own LabelPropagation/LabelSpreading from it by name "
            "(_choose_check_classifiers_labels)."),
        "check_methods_sample_order_invariance": (
            "predict on rows other than the training rows builds the kNN graph over training + new rows; the "
            "check's new rows duplicate the training rows, and kneighbors breaks the resulting distance-0 ties "
            "by row order, so the graph (not the propagation) depends on the order."),
    },
}


def _expected_failures(estimator):
    return EXPECTED_FAILURES[type(estimator).__name__]


ESTIMATORS = [
    GraphPropagation(KNNGraph(3)),
    GraphPropagation(KNNGraph(3), k=3, norm="row", hops="all"),
    NeighborAggregation(KNNGraph(3), "mean"),
    NeighborAggregation(KNNGraph(3), "max", include_self=False),
    NeighborAggregation(KNNGraph(3), "sum"),
    GraphLabelPropagation(KNNGraph(3)),
    GraphLabelPropagation(KNNGraph(3), clamp="hard", norm="row"),
]


@parametrize_with_checks(ESTIMATORS, expected_failed_checks=_expected_failures, xfail_strict=True)
def test_sklearn_compatible(estimator, check):
    check(estimator)


def test_expected_failure_list_is_documented():
    # Every expected failure carries a reason, and the module docstring points here.
    for per_class in EXPECTED_FAILURES.values():
        for check, reason in per_class.items():
            assert check.startswith("check_") and len(reason) > 40


def test_array_api_dispatch_checks_in_a_fresh_process():
    # scikit-learn skips its array-API dispatch check (the 7 skips of the test
    # above: "SCIPY_ARRAY_API is not set") unless SCIPY_ARRAY_API=1 was set
    # before scipy was first imported, which a shared pytest process cannot
    # guarantee. Run that same check, as parametrize_with_checks yields it for
    # estimators without array-API support, in a fresh process.
    import os
    import subprocess
    import sys

    script = "\n".join([
        "from sklearn.utils.estimator_checks import check_array_api_input",
        "from pysparsegraph.sklearn import GraphLabelPropagation, GraphPropagation, KNNGraph, NeighborAggregation",
        f"for r in {[repr(e) for e in ESTIMATORS]!r}:",
        "    est = eval(r)",
        "    check_array_api_input(type(est).__name__, est, array_namespace='numpy', "
        "expect_only_array_outputs=False)",
        "print('checked', len(" + repr([repr(e) for e in ESTIMATORS]) + "))",
    ])
    env = dict(os.environ, SCIPY_ARRAY_API="1")
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.strip() == f"checked {len(ESTIMATORS)}"
