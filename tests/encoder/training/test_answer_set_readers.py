"""The answer-set readers on tiny tar.xz archives written here in each set's real layout."""

import json

from pair_files import archive, lines

from encoder.training.pair_sets import ANSWER_SETS, read_answer_set


def test_answer_sets_read_questions_with_their_answers_once_each(tmp_path):
    archive(tmp_path, "nq_open_dev_efficientqa", {
        "nq_open/NQ-open.dev.jsonl": lines(json.dumps({"question": "when was the moon landing", "answer": ["1969", " 1969 ", ""]})),
        "nq_open/NQ-open.efficientqa.dev.1.1.jsonl": lines(json.dumps({"question": "When was the moon landing", "answer": ["July 1969"]})),
        "nq_open/NQ-open.efficientqa.test.1.1.jsonl": lines(json.dumps({"question": "who sings poison", "answer": "Poison"}), "{bad"),
    })
    archive(tmp_path, "dpr_qa_topics_anserini", {
        "topics/topics.dpr.nq.dev.txt": lines("who sings with reba\t['Linda Davis']", "broken line\t['unclosed"),
        "topics/topics.dpr.trivia.dev.txt": lines("The VS-300 was a what?\t['Helicopter', 'Copter']"),
        "topics/topics.dpr.trivia.test.txt": lines('{"question": "Who led the Chipmunks?", "answer": ["David Seville"]}'),
    })
    archive(tmp_path, "opentriviaqa", {"categories/history": lines(
        "#Q Where is Mount Rainier?", "^ Washington", "A Ohio", "B Washington", "", "#Q The sky is green.", "^ False", "A True", "B False")})
    archive(tmp_path, "webquestions", {f"main/{split}.json": json.dumps(
        [{"qText": f"q {split}?", "answers": ["A"]}] if split == "val" else []) for split in ("trainmodel", "val", "devtest", "test")})
    archive(tmp_path, "curatedtrec", {"curated-train.tsv": lines("1\tfactoid\tWhen is Fashion week?\tSept?(ember)?"), "curated-test.tsv": ""})
    assert list(read_answer_set(tmp_path, "nq_open_dev_efficientqa")) == [
        ("when was the moon landing", ("1969",)), ("who sings poison", ("Poison",))]
    assert list(read_answer_set(tmp_path, "dpr_nq_dev")) == [("who sings with reba", ("Linda Davis",))]
    assert list(read_answer_set(tmp_path, "dpr_trivia")) == [
        ("The VS-300 was a what?", ("Helicopter", "Copter")), ("Who led the Chipmunks?", ("David Seville",))]
    assert list(read_answer_set(tmp_path, "opentriviaqa")) == [("Where is Mount Rainier?", ("Washington",))]
    assert list(read_answer_set(tmp_path, "webquestions")) == [("q val?", ("A",))]
    assert list(read_answer_set(tmp_path, "curatedtrec")) == [("When is Fashion week?", ("Sept?(ember)?",))]
    assert ANSWER_SETS["curatedtrec"].regex and not ANSWER_SETS["webquestions"].regex
