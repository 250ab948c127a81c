import subprocess
import sys
from pathlib import Path

from encoder.paths import DEFAULT_MODEL, REPOSITORY
from encoder.training.paths import DEFAULT_DATA_DIR


def test_the_data_folder_is_beside_the_repository_wherever_a_command_runs(tmp_path):
    assert REPOSITORY == Path(__file__).resolve().parents[3] and DEFAULT_DATA_DIR == REPOSITORY.parent / "shared" / "data"
    code = "from encoder.training.paths import DEFAULT_DATA_DIR; print(DEFAULT_DATA_DIR)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path, timeout=60,
                            env={"PYTHONPATH": str(REPOSITORY)})
    assert result.stdout.strip() == str(DEFAULT_DATA_DIR), result.stderr


def test_the_shipped_model_is_in_the_repository():
    assert DEFAULT_MODEL == REPOSITORY / "models" / "default" and (DEFAULT_MODEL / "config.json").is_file()
