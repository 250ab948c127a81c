"""English stop words for BM25: Lucene's EnglishAnalyzer default set (the one Anserini's BEIR
baselines and bm25s use), so that our BM25 scores as the reference runs in FACTS.md do."""

STOPWORDS_EN = frozenset((
    "a", "an", "and", "are", "as", "at", "be", "but", "by", "for", "if", "in", "into", "is", "it", "no", "not", "of",
    "on", "or", "such", "that", "the", "their", "then", "there", "these", "they", "this", "to", "was", "will", "with",
))
