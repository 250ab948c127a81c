"""What the browser tests and their fixtures (conftest.py) agree on."""

from pathlib import Path

ARTIFACTS = Path(__file__).resolve().parent / "artifacts"  # screenshots, not committed
TOKEN = "e2e-token"  # the write token the test server runs with
WIDTH, HEIGHT = 1280, 900  # the window the compactness goal is measured in
XSS = '<script>window.pwned = 1</script><img src=x onerror="window.pwned = 2">'
