from pathlib import Path

import pytest

from pair_files import write_climate_fever, write_msrp, write_scifact, write_sick, write_stsb, write_trecqa


@pytest.fixture
def data(tmp_path: Path) -> Path:
    """A data root holding every source in its real layout, each with train rows and held-out rows."""
    root = tmp_path / "data"
    write_stsb(root)
    write_sick(root)
    write_msrp(root)
    write_trecqa(root)
    write_scifact(root)
    write_climate_fever(root)
    return root
