"""Sheaf diffusion accuracy on real heterophilous data (slow: ``pytest -m slow``)."""
from __future__ import annotations

import pytest

from conftest import need_dataset


@pytest.mark.slow
def test_cornell_diag_sheaf_reaches_the_paper_within_one_std():
    """The authors' Cornell run over the 10 geom-gcn splits: paper 86.49 ± 7.35, so at least 79.14."""
    need_dataset("cornell")
    from graphkit import datasets
    from graphkit.tasks import NodeClassification
    report = NodeClassification("nsd-diag", progress=False).fit(datasets.load("cornell", split="geom-gcn"))
    assert report.test_accuracy["mean"] >= 0.7914
