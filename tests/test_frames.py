"""Id lookups hashed by Arrow (``core.frames.positions_in`` and ``is_in``), checked by hand and against pandas."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from core.frames import is_in, positions_in


def test_positions_are_found_by_hand_and_missing_or_absent_ids_get_minus_one() -> None:
    index = pd.Index(["a2", "a0", "a1"])
    values = pd.Series(["a1", "a9", None, "a2", "a1"], dtype="str")
    assert positions_in(values, index).tolist() == [2, -1, -1, 0, 2]
    assert positions_in(pd.Series([], dtype="str"), index).tolist() == []
    assert positions_in(values, pd.Index([], dtype="str")).tolist() == [-1] * 5


@pytest.mark.parametrize("members_kind", ["series", "index", "object"])
def test_membership_agrees_with_pandas_isin(members_kind: str) -> None:
    rng = np.random.default_rng(4)
    values = pd.Series([f"t{i:05d}" for i in rng.integers(0, 3_000, 5_000)], dtype="str")
    members = pd.Series([f"t{i:05d}" for i in rng.integers(1_000, 4_000, 2_000)], dtype="str")
    given = {"series": members, "index": pd.Index(members), "object": members.astype(object)}[members_kind]
    found = is_in(values, given)
    assert found.dtype == bool
    assert 0 < found.sum() < len(values)  # both outcomes occur
    assert found.tolist() == values.isin(members).tolist()


def test_an_id_in_no_member_list_is_not_in_it() -> None:
    assert is_in(pd.Series(["x", "y"], dtype="str"), pd.Series([], dtype="str")).tolist() == [False, False]
    assert is_in(pd.Series(["x", None], dtype="str"), pd.Series(["x"], dtype="str")).tolist() == [True, False]
