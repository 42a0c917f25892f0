import os

import pandas as pd
import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("PHYSLM_DEVICE", "cpu")

SMALL_POOLS = {
    "first": 20,
    "middle": 20,
    "last": 30,
    "cities": 12,
    "universities": 10,
    "majors": 8,
    "companies": 9,
}


@pytest.fixture(scope="session")
def people() -> pd.DataFrame:
    from physlm.data.bios import make_people

    return make_people(200, SMALL_POOLS, seed=3)
