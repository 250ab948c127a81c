from encoder.training.vocabulary import TokenizerConfig, train_tokenizer


def test_the_vocabulary_is_learnt_from_the_first_documents_only(tmp_path):
    corpus = tmp_path / "corpus.txt"
    corpus.write_text("\n\n".join(["alpha alpha beta\nbeta alpha"] * 5 + ["omega omega\nomega"] * 5) + "\n")
    tokenizer = train_tokenizer([corpus], TokenizerConfig(vocab_size=500, max_docs=5))
    assert tokenizer.tokens("Alpha beta") == ["[CLS]", "alpha", "beta", "[SEP]"]  # lower-cased, whole words
    assert "omega" not in tokenizer.tokenizer.get_vocab()
    assert "omega" in train_tokenizer([corpus], TokenizerConfig(vocab_size=500)).tokenizer.get_vocab()
    assert tokenizer.max_length == 512


def test_cased_keeps_case_and_accents(tmp_path):
    corpus = tmp_path / "corpus.txt"
    corpus.write_text("\n\n".join(["Café au lait\ncafé CAFÉ Café"] * 4) + "\n")
    uncased = train_tokenizer([corpus], TokenizerConfig(vocab_size=300))
    cased = train_tokenizer([corpus], TokenizerConfig(vocab_size=300, cased=True))
    assert uncased.tokens("Café") == uncased.tokens("cafe") == ["[CLS]", "cafe", "[SEP]"]
    assert cased.tokens("Café") == ["[CLS]", "Café", "[SEP]"] != cased.tokens("cafe")
