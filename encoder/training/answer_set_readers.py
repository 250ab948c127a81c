"""The readers of the answer sets (`pair_sets.ANSWER_SETS`): questions with short answers (or answer
patterns), which become pairs once a passage holding the answer is found (`indexer.pair_mining`)."""

from __future__ import annotations

import ast
import json
import tarfile
from collections.abc import Callable, Iterator

from .archives import archive_members, member_text
from .corpus import json_objects

Question = tuple[str, tuple[str, ...]]  # (question, answer strings or answer regexes)


def nq_open_questions(archive: tarfile.TarFile) -> Iterator[Question]:
    """NQ-open dev and EfficientQA dev and test (all NQ questions with short answers)."""
    for member in ("NQ-open.dev.jsonl", "NQ-open.efficientqa.dev.1.1.jsonl", "NQ-open.efficientqa.test.1.1.jsonl"):
        yield from _json_questions(member_text(archive, f"nq_open_dev_efficientqa/nq_open/{member}"))


def dpr_questions(*files: str) -> Callable[[tarfile.TarFile], Iterator[Question]]:
    """DPR's question files as anserini keeps them: `question<TAB>['answer', ...]` or JSON lines."""
    def read(archive: tarfile.TarFile) -> Iterator[Question]:
        for file in files:
            text = member_text(archive, f"dpr_qa_topics_anserini/topics/topics.dpr.{file}.txt")
            if text.lstrip().startswith("{"):
                yield from _json_questions(text)
                continue
            for line in text.splitlines():
                question, _, answers = line.partition("\t")
                try:
                    parsed = ast.literal_eval(answers)
                except (ValueError, SyntaxError):
                    continue
                if isinstance(parsed, list):
                    yield question.strip(), tuple(str(a) for a in parsed)
    return read


def webquestions_questions(archive: tarfile.TarFile) -> Iterator[Question]:
    """WebQuestions, every split (none is one of our evaluation sets)."""
    for split in ("trainmodel", "val", "devtest", "test"):
        for record in json.loads(member_text(archive, f"webquestions/main/{split}.json")):
            yield str(record.get("qText") or "").strip(), tuple(str(a) for a in record.get("answers") or ())


def opentriviaqa_questions(archive: tarfile.TarFile) -> Iterator[Question]:
    """OpenTriviaQA's `#Q question` / `^ answer` blocks; true/false questions carry no findable answer."""
    for name, data in archive_members(archive, lambda n: "/categories/" in n):
        question = ""
        for line in data.decode("utf-8", errors="replace").splitlines():
            if line.startswith("#Q "):
                question = line[3:].strip()
            elif line.startswith("^ ") and question:
                answer = line[2:].strip()
                if answer.lower() not in ("true", "false", "yes", "no"):
                    yield question, (answer,)
                question = ""


def curatedtrec_questions(archive: tarfile.TarFile) -> Iterator[Question]:
    """CuratedTREC train and test: `id, type, question, answer regex` (research-only)."""
    for split in ("train", "test"):
        for line in member_text(archive, f"curatedtrec/curated-{split}.tsv").splitlines():
            fields = line.split("\t")
            if len(fields) >= 4:
                yield fields[2].strip(), (fields[3].strip(),)


def _json_questions(text: str) -> Iterator[Question]:
    for record in json_objects(text.splitlines()):
        answers = record.get("answer") or ()
        yield str(record.get("question") or "").strip(), tuple(str(a) for a in (answers if isinstance(answers, list) else [answers]))
