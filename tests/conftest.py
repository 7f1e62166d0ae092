import os
from pathlib import Path

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
ROOT = Path(__file__).resolve().parents[1]
# CI sets a relative DEEPBIO_DATA (../shared/data); scripts run by subprocess in other folders need
# it absolute.
if os.environ.get("DEEPBIO_DATA"):
    os.environ["DEEPBIO_DATA"] = str(Path(os.environ["DEEPBIO_DATA"]).resolve())


@pytest.fixture(scope="session")
def data_dir():
    """The local data mirror named by DEEPBIO_DATA (CI sets it to ../shared/data)."""
    value = os.environ.get("DEEPBIO_DATA")
    if not value or not Path(value).is_dir():
        pytest.skip("DEEPBIO_DATA is not set to a data mirror")
    return Path(value)
