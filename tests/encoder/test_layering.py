"""The runtime does not carry the training code: a server process that imports `encoder` loads none of
`encoder.training`, nor any of the app's own packages or dependencies. And the training commands, as the
GPU machine runs them (`python3 -m encoder.training`, `adapt` on an exported folder included), load none
of the app's packages or dependencies either: that machine has none of them."""

import subprocess
import sys

FOREIGN = """
foreign = {"flask", "sqlalchemy", "faiss", "indexer", "searchapp"} & {name.split(".")[0] for name in sys.modules}
assert not foreign, foreign
"""
CHECK = """
import sys
import encoder
training = sorted(name for name in sys.modules if name.startswith("encoder.training"))
assert not training, training
""" + FOREIGN
TRAINING_CHECK = """
import sys
import encoder.training.__main__
""" + FOREIGN


def test_importing_encoder_imports_no_training_code():
    result = subprocess.run([sys.executable, "-c", CHECK], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr


def test_the_training_commands_import_nothing_the_gpu_machine_lacks():
    result = subprocess.run([sys.executable, "-c", TRAINING_CHECK], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
