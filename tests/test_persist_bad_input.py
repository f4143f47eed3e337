"""Bad inputs through ``save_json``/``load_json``: fit, save, load, transform.

The law: an estimator loaded from its file gives the saved estimator's output
exactly, on every input of ``tests/_bad_arrays.py`` (that output equals the
float64 reference), or the same error as ``transform`` (see
``test_estimators_bad_input.py``) -- except statistics that ``save_json``
refuses to write (``SAVE_REFUSES``).  The input is never modified.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest
from numpy.testing import assert_array_equal
from sklearn.base import clone

from sk_pixels import load_json, save_json

from ._bad_arrays import ARRAYS, Untouched, outcome_table
from ._outcomes import Raises, check
from ._reference import check_against_reference
from .test_estimators_bad_input import (
    ESTIMATORS,
    RaisesWhenFittedOnX,
    expected,
    fit_batch,
    learns,
)

#: For estimators that learn statistics: a channel that counted no pixel is
#: refused at save, even for per_channel=False where the pooled statistics are
#: defined.  Other inputs: ``transform``'s outcome.
SAVE_REFUSES = outcome_table(
    {
        "nan-channel-then-filled": Raises(ValueError, "channel that counted no pixel"),
        "nan-everywhere": RaisesWhenFittedOnX(
            ValueError, "channel that counted no pixel"
        ),
    },
    default=None,
)


def persisted(array, est):
    """The outcome of fit, save_json, load_json, transform on ``array``."""
    refused = SAVE_REFUSES[array.id]
    return (
        refused
        if refused is not None and learns(est)
        else expected(array, "transform", est)
    )


@pytest.fixture(scope="module")
def json_dir(tmp_path_factory):
    """Where the files go: RAM when available, since ``save_json`` fsyncs every
    file and ~800 fsyncs cost seconds on a disk."""
    if os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK):
        folder = Path(tempfile.mkdtemp(prefix="sk_pixels-json-", dir="/dev/shm"))
        yield folder
        shutil.rmtree(folder, ignore_errors=True)
    else:
        yield tmp_path_factory.mktemp("json")


@pytest.mark.parametrize("est_id", list(ESTIMATORS))
@pytest.mark.parametrize("array", ARRAYS, ids=str)
def test_loaded_estimator_gives_the_saved_ones_output(array, est_id, json_dir):
    est = clone(ESTIMATORS[est_id]).set_params(**array.params)
    outcome = persisted(array, est)
    X = array.make()
    first = array.first() if array.first is not None else None
    untouched = Untouched(X, first)
    fit_on = first if first is not None else fit_batch(array, outcome, X)
    path = json_dir / f"{array.id}-{est_id}.json"

    def via_json():
        est.fit(fit_on)
        save_json(est, path)
        return load_json(path).transform(X), est.transform(X)

    result = check(outcome, via_json)
    if result is not None:
        loaded, saved = result
        assert_array_equal(loaded, saved)
        check_against_reference(est, [fit_on], X, loaded, array.params)
    untouched.check()
