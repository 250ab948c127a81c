"""Training our BERT: corpora and pair data, pretraining, fine-tuning, evaluation and the GPU runs.

The runtime (`encoder`) never imports this package, so a server process loads none of it. What code
outside the package uses is exported here; the GPU entry points are modules of their own, run as
`python3 -m encoder.training.pipeline` and `python3 -m encoder.training.recipe` (and the commands as
`python3 -m encoder.training`), and are not imported here, so that running one imports it once.
"""

from .commands import add_commands
from .corpus import Document, open_text, read_corpus, read_wikiextractor
from .evaluation import STS_SETS, evaluate_retrieval, evaluate_sts, read_beir, read_judged, retrieval_metrics
from .finetune import FinetuneConfig, finetune
from .pair_mix import MixConfig, evaluation_texts, mix_pairs, write_table
from .pair_sets import ANSWER_SETS, MINED_PREFIX, PAIR_SETS, licence_of, read_answer_set, read_pair_set
from .pair_sources import DEFAULT_SOURCES, load_pairs
from .pairs import Pair, read_pairs, write_pairs
from .paths import DEFAULT_DATA_DIR
from .pretrain import PretrainConfig, pretrain
from .pretraining_data import PrepareConfig, prepare_pretraining
from .report import format_table
from .transfer import PAIRS_FILE, assemble
from .vocabulary import TokenizerConfig, train_tokenizer
from .wikipedia_pairs import wikipedia_pairs

__all__ = [
    "ANSWER_SETS",
    "DEFAULT_DATA_DIR",
    "DEFAULT_SOURCES",
    "Document",
    "FinetuneConfig",
    "MINED_PREFIX",
    "MixConfig",
    "PAIRS_FILE",
    "PAIR_SETS",
    "Pair",
    "PrepareConfig",
    "PretrainConfig",
    "STS_SETS",
    "TokenizerConfig",
    "add_commands",
    "assemble",
    "evaluate_retrieval",
    "evaluate_sts",
    "evaluation_texts",
    "finetune",
    "format_table",
    "licence_of",
    "load_pairs",
    "mix_pairs",
    "open_text",
    "prepare_pretraining",
    "pretrain",
    "read_answer_set",
    "read_beir",
    "read_judged",
    "read_corpus",
    "read_pair_set",
    "read_pairs",
    "read_wikiextractor",
    "retrieval_metrics",
    "train_tokenizer",
    "wikipedia_pairs",
    "write_pairs",
    "write_table",
]
