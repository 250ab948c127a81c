"""Shared fixtures: a tiny WordPiece tokenizer (kept in tiny_wordpiece.json) and a tiny BERT built inside the test run, and
`database_url`, which runs a store test on SQLite and on PostgreSQL (skipped, with the reason shown,
only where no server answers at 127.0.0.1:5432), and `instance`, the small corpus the search tests search."""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import pytest
import torch
from sqlalchemy import create_engine, text
from tokenizers import Tokenizer

from encoder import BertConfig, BertForPairScoring, BertModel, CrossEncoder, TextTokenizer, save_checkpoint
from search_instance import build_instance

# Under pytest-xdist each worker gets its share of the cores, and so do the commands it starts: torch's
# threads spinning against another worker's cost a training test ten times its time.
if "PYTEST_XDIST_WORKER_COUNT" in os.environ:
    _threads = str(max(1, (os.cpu_count() or 1) // int(os.environ["PYTEST_XDIST_WORKER_COUNT"])))
    os.environ["OMP_NUM_THREADS"] = os.environ["MKL_NUM_THREADS"] = _threads
    torch.set_num_threads(int(_threads))


TINY_WORDPIECE = Path(__file__).with_name("tiny_wordpiece.json")


@pytest.fixture(scope="session")
def tiny_wordpiece() -> str:
    """The tiny vocabulary as tokenizer.json text: `train_wordpiece(SENTENCES * 4, vocab_size=300, min_frequency=1)`
    made it once and it is kept in a file, since the trainer breaks ties in a different order in each process
    (239 or 240 pieces, other ids), and tests on tiny random models then passed or failed with the process."""
    return TINY_WORDPIECE.read_text(encoding="utf-8")


@pytest.fixture
def tiny_tokenizer(tiny_wordpiece: str) -> TextTokenizer:
    """A fresh tokenizer per test: a test may set its length (`set_max_length`), and a shared one would
    carry that length into the next test, such as into a checkpoint's saved max_length."""
    return TextTokenizer(Tokenizer.from_str(tiny_wordpiece), max_length=32)


@pytest.fixture(scope="session")
def tiny_config(tiny_wordpiece: str) -> BertConfig:
    return BertConfig(
        vocab_size=Tokenizer.from_str(tiny_wordpiece).get_vocab_size(),
        hidden_size=32,
        num_layers=2,
        num_heads=4,
        intermediate_size=64,
        max_position_embeddings=64,
        dropout=0.0,
    )


@pytest.fixture
def tiny_checkpoint(tmp_path: Path, tiny_config: BertConfig, tiny_tokenizer: TextTokenizer) -> Path:
    """A randomly initialised tiny BERT saved as a checkpoint folder."""
    torch.manual_seed(0)
    return save_checkpoint(tmp_path / "tiny", BertModel(tiny_config), tiny_tokenizer, pooling="mean", max_length=32)


@pytest.fixture
def tiny_reranker(tmp_path: Path, tiny_config: BertConfig, tiny_tokenizer: TextTokenizer) -> Path:
    """A randomly initialised tiny cross-encoder saved as a reranker folder: its order is arbitrary but
    fixed, so a test computes what it should be by scoring the passages itself."""
    torch.manual_seed(1)
    return CrossEncoder(BertForPairScoring(tiny_config), tiny_tokenizer, precision="float32").save(tmp_path / "reranker")


POSTGRES = os.environ.get("TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


def _postgres_schema_url() -> str:
    """A fresh schema in the test database for this test, so concurrent runs never collide."""
    schema = f"t_{uuid.uuid4().hex[:12]}"
    engine = create_engine(POSTGRES)
    try:
        with engine.begin() as connection:
            connection.execute(text(f"CREATE SCHEMA {schema}"))
    except Exception as exc:  # no server, no database, no rights: all mean "cannot test here"
        pytest.skip(f"PostgreSQL not available at {POSTGRES}: {exc.__class__.__name__}")
    finally:
        engine.dispose()
    return f"{POSTGRES}?options=-csearch_path%3D{schema}", schema


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request, tmp_path):
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'store.sqlite3'}"
        return
    url, schema = _postgres_schema_url()
    yield url
    engine = create_engine(POSTGRES)
    with engine.begin() as connection:
        connection.execute(text(f"DROP SCHEMA {schema} CASCADE"))
    engine.dispose()


@pytest.fixture
def instance(tmp_path: Path, tiny_checkpoint: Path, database_url: str) -> Path:
    """The small search instance of tests/search_instance.py, on SQLite and on PostgreSQL."""
    return build_instance(tmp_path / "instance", tiny_checkpoint, database_url)
