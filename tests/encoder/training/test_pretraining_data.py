import numpy as np

from encoder.sentences import split_sentences
from encoder.training.corpus import Document, read_corpus
from encoder.training.pretraining_data import IS_NEXT, NOT_NEXT, PairBuilder, PrepareConfig, load_examples, pack, prepare_pretraining


def numbered_documents(count: int, sentences: int) -> list[list[list[int]]]:
    """Token ids that encode where they come from: doc * 10_000 + sentence * 100 + position."""
    return [[[d * 10_000 + s * 100 + k for k in range(3 + (s % 4))] for s in range(sentences)] for d in range(1, count + 1)]


def test_segments_follow_the_bert_recipe():
    builder = PairBuilder(PrepareConfig(max_length=32, seed=1))
    labels = []
    for document in numbered_documents(200, 12):
        for a, b, label in builder.pairs(document):
            assert a and b and len(a) + len(b) <= 32 - 3
            doc_a = {t // 10_000 for t in a}
            doc_b = {t // 10_000 for t in b}
            assert len(doc_a) == 1
            if label == IS_NEXT:
                assert doc_b == doc_a and min(b) > max(a)  # B is the text right after A
            else:
                assert doc_b.isdisjoint(doc_a)  # B comes from another document
            labels.append(label)
    assert 0.45 < np.mean(np.array(labels) == NOT_NEXT) < 0.55


def test_prepared_shards_hold_cls_a_sep_b_sep(tmp_path, tiny_tokenizer):
    from samples import SENTENCES

    documents = [Document(f"doc {i}", [" ".join(SENTENCES[i % 8:] + SENTENCES[: i % 8])] * 2) for i in range(60)]
    prepare_pretraining(documents, tiny_tokenizer, tmp_path / "shards", PrepareConfig(max_length=24, shard_examples=50), show_progress=False)
    examples = load_examples(tmp_path / "shards")
    assert len(list((tmp_path / "shards").glob("shard_*.npz"))) >= 2
    assert examples.input_ids.dtype == np.uint16 and examples.input_ids.shape[1] == 24
    types = examples.token_type_ids()
    for row in range(len(examples)):
        ids, a, n = examples.input_ids[row], int(examples.a_lengths[row]), int(examples.lengths[row])
        assert ids[0] == tiny_tokenizer.cls_id and ids[a + 1] == tiny_tokenizer.sep_id and ids[n - 1] == tiny_tokenizer.sep_id
        assert (ids[n:] == tiny_tokenizer.pad_id).all()
        assert types[row, : a + 2].sum() == 0 and (types[row, a + 2 : n] == 1).all() and types[row, n:].sum() == 0


def test_pack_widens_ids_for_large_vocabularies(tiny_tokenizer, monkeypatch):
    monkeypatch.setattr(type(tiny_tokenizer), "vocab_size", property(lambda self: 70_000))
    assert pack([([7], [8], IS_NEXT)], tiny_tokenizer, 8).input_ids.dtype == np.uint32


def test_corpus_readers_stream_wikiextractor_and_plain_text(tmp_path):
    import lzma

    wiki = tmp_path / "wiki.txt.xz"
    with lzma.open(wiki, "wt", encoding="utf-8") as handle:
        handle.write('<doc id="1" url="u" title="Alpha">\nAlpha\n\nAlpha is the first letter of the Greek alphabet. It is used in math.\nHistory.\n</doc>\n'
                     '<doc id="2" url="u" title="Empty">\nEmpty\n\n</doc>\n')
    plain = tmp_path / "plain.txt"
    plain.write_text("First document has one paragraph here.\n\nSecond document line one is here.\nLine two of it.\n")
    documents = list(read_corpus([wiki, plain]))
    assert [d.title for d in documents] == ["Alpha", "", ""]
    assert documents[0].paragraphs == ["Alpha is the first letter of the Greek alphabet. It is used in math."]  # heading dropped
    assert documents[2].paragraphs == ["Second document line one is here.", "Line two of it."]
    assert split_sentences(documents[0].paragraphs[0]) == ["Alpha is the first letter of the Greek alphabet.", "It is used in math."]
