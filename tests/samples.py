"""Sentences the tests build their tiny corpora from (importable from any test folder)."""

SENTENCES = [
    "I have a pen. The pen is red.",
    "Vaccines train the immune system to recognise a pathogen.",
    "The stock market fell sharply on Tuesday after the announcement.",
    "A cat sat on the mat while the dog slept by the door.",
    "Proteins fold into shapes that decide what they do in the cell.",
    "Search engines rank documents by how well they match a query.",
    "The river flooded the valley and the farmers moved their cattle.",
    "Neural networks learn representations of words and sentences.",
]
