"""Our BERT: the model, its WordPiece tokenizer, the checkpoint format and the `Encoder` seam.

Imports only torch, tokenizers, safetensors, numpy and tqdm, so it runs and trains on a machine that
has nothing else (the GPU machine).
"""

from .atomic import atomic_folder, atomic_write
from .checkpoint import Checkpoint, CheckpointError, load_checkpoint, save_checkpoint
from .config import BertConfig
from .cross_encoder import CrossEncoder
from .hf_export import export_hf
from .hf_import import import_hf
from .model import BertForPairScoring, BertForPreTraining, BertModel
from .precision import reranking_precision, serving_precision
from .sentences import sentence_starts
from .text_encoder import Encoder, TokenVectors, passage_text, set_threads
from .tokenizer import TextTokenizer, train_wordpiece, wordpiece_from_vocab

__all__ = [
    "atomic_folder",
    "atomic_write",
    "BertConfig",
    "BertForPairScoring",
    "BertForPreTraining",
    "BertModel",
    "Checkpoint",
    "CheckpointError",
    "CrossEncoder",
    "Encoder",
    "TextTokenizer",
    "TokenVectors",
    "export_hf",
    "import_hf",
    "load_checkpoint",
    "passage_text",
    "reranking_precision",
    "serving_precision",
    "save_checkpoint",
    "sentence_starts",
    "set_threads",
    "train_wordpiece",
    "wordpiece_from_vocab",
]
