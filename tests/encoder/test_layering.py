"""The runtime does not carry the training code: a server process that imports `encoder` loads none of
`encoder.training`, nor any of the app's own packages or dependencies."""

import subprocess
import sys

CHECK = """
import sys
import encoder
training = sorted(name for name in sys.modules if name.startswith("encoder.training"))
assert not training, training
foreign = {"flask", "sqlalchemy", "faiss", "indexer", "searchapp"} & {name.split(".")[0] for name in sys.modules}
assert not foreign, foreign
"""


def test_importing_encoder_imports_no_training_code():
    result = subprocess.run([sys.executable, "-c", CHECK], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
