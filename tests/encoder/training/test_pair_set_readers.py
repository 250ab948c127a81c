"""The pair-set readers on tiny tar.xz archives written here in each set's real layout."""

import json

import pytest
from pair_files import archive, lines

from encoder.training.pair_set_readers import detokenize
from encoder.training.pair_sets import read_pair_set
from encoder.training.pairs import Pair


def test_esnli_pairs_a_premise_with_what_it_entails_and_contradicts(tmp_path):
    files = {}
    for split, premise in (("dev", "Two women are embracing ."), ("test", "A dog runs .")):
        files[f"dataset/eSNLI/s1.{split}"] = lines(premise, premise, premise)
        files[f"dataset/eSNLI/s2.{split}"] = lines("The sisters hug goodbye .", "Two woman are holding packages .", "The men are n't fighting .")
        files[f"dataset/eSNLI/labels.{split}"] = lines("neutral", "entailment", "contradiction")
    archive(tmp_path, "snli_dev_test_esnli", files)
    pairs = list(read_pair_set(tmp_path, "snli_dev_test_esnli"))
    assert pairs == [
        Pair("Two women are embracing.", "Two woman are holding packages.", "snli_dev_test_esnli", "The men aren't fighting."),
        Pair("A dog runs.", "Two woman are holding packages.", "snli_dev_test_esnli", "The men aren't fighting."),
    ]


def test_counterfactual_nli_reads_every_split_and_deals_out_negatives(tmp_path):
    header = "sentence1\tsentence2\tgold_label"
    files = {f"NLI/all_combined/{split}.tsv": lines(header) for split in ("train", "dev", "test")}
    files["NLI/all_combined/train.tsv"] = lines(header, "A man rides.\tA person rides.\tentailment", "A man rides.\tA man sleeps.\tcontradiction",
                                                "A man rides.\tA man is moving.\tentailment", "A man rides.\tA woman walks.\tcontradiction")
    files["NLI/all_combined/test.tsv"] = lines(header, "A cat \"sits\".\tAn animal sits.\tentailment", "A cat sits.\tA cat is old.\tneutral")
    archive(tmp_path, "snli_counterfactual_cad", files)
    pairs = list(read_pair_set(tmp_path, "snli_counterfactual_cad"))
    assert [(p.positive, p.negative) for p in pairs] == [
        ("A person rides.", "A man sleeps."), ("A man is moving.", "A woman walks."), ("An animal sits.", None)]
    assert pairs[2].query == 'A cat "sits".'  # quotes are text, not CSV quoting


def test_breaking_nli_keeps_premises_with_an_entailment(tmp_path):
    rows = [{"sentence1": "He holds a saxophone.", "sentence2": "He holds an instrument.", "gold_label": "entailment"},
            {"sentence1": "He holds a saxophone.", "sentence2": "He holds a horn.", "gold_label": "contradiction"},
            {"sentence1": "She eats an apple.", "sentence2": "She eats a pear.", "gold_label": "contradiction"}]
    archive(tmp_path, "breaking_nli", {"unzipped/data/dataset.jsonl": lines(*map(json.dumps, rows), "not json")})
    assert list(read_pair_set(tmp_path, "breaking_nli")) == [
        Pair("He holds a saxophone.", "He holds an instrument.", "breaking_nli", "He holds a horn.")]


def test_medquad_reads_each_question_and_answer_of_every_xml_file(tmp_path):
    document = """<?xml version="1.0" encoding="UTF-8"?><Document id="1"><Focus>Gout</Focus><QAPairs>
      <QAPair pid="1"><Question qid="1-1" qtype="information">What is (are) Gout ?</Question>
      <Answer>Gout is a form
           of arthritis.</Answer></QAPair>
      <QAPair pid="2"><Question qid="1-2" qtype="treatment">How to treat Gout ?</Question><Answer></Answer></QAPair>
    </QAPairs></Document>"""
    archive(tmp_path, "medquad", {"1_CancerGov_QA/0001.xml": document, "2_GARD_QA/broken.xml": "<Document><QAPairs>",
                                  "readme.txt": "not xml"})
    assert list(read_pair_set(tmp_path, "medquad")) == [Pair("What is (are) Gout ?", "Gout is a form of arthritis.", "medquad")]


def test_disfl_qa_pairs_the_disfluent_question_with_the_fluent_one(tmp_path):
    record = {"q1": {"original": "What do isotopes indicate?", "disfluent": "What do rocks no what do isotopes indicate?"},
              "q2": {"original": "", "disfluent": "Who no what?"}}
    archive(tmp_path, "disfl_qa", {f"{split}.json": json.dumps(record if split == "dev" else {}) for split in ("train", "dev", "test")})
    assert list(read_pair_set(tmp_path, "disfl_qa")) == [
        Pair("What do rocks no what do isotopes indicate?", "What do isotopes indicate?", "disfl_qa")]


SQUAD_PAGE = (
    '<html><body><div class="para-wrap"><div class="row"><div class="col-md-6"><pre>The Normans (&quot;Norman&quot;) '
    'gave their name to Normandy.</pre></div><div class="col-md-6"><div class="qas-wrap">'
    '<div class="qa-wrap" data-id="1"><p> <strong class="question">In what country is Normandy?</strong></p>'
    '<ul class="list-unstyled"><li><p><i>Ground Truth Answers: </i><span class="answer">France</span></p></li></ul></div>'
    '<div class="qa-wrap" data-id="2"><p> <strong class="question">What is France a region of?</strong></p>'
    '<ul class="list-unstyled"><li><p><i>Ground Truth Answers: </i><span class="no-answer">&lt;No Answer&gt;</span></p></li></ul></div>'
    '</div></div></div></div><div class="para-wrap"><div class="row"><div class="col-md-6"><pre>Rollo led the Norse.</pre></div>'
    '<div class="col-md-6"><div class="qas-wrap"><div class="qa-wrap" data-id="3"><p> <strong class="question">Who led the Norse?</strong></p>'
    '<ul class="list-unstyled"><li><p><span class="answer">Rollo</span></p></li></ul></div></div></div></div></div></body></html>'
)


def test_squad_pages_give_answerable_questions_and_their_paragraphs(tmp_path):
    archive(tmp_path, "squad_dev_explorer_html", {"explore/1.1/dev/Normans.html": SQUAD_PAGE, "explore/v2.0/dev/index.html": SQUAD_PAGE})
    assert list(read_pair_set(tmp_path, "squad_dev_explorer_html")) == [
        Pair("In what country is Normandy?", 'The Normans ("Norman") gave their name to Normandy.', "squad_dev_explorer_html"),
        Pair("Who led the Norse?", "Rollo led the Norse.", "squad_dev_explorer_html"),
    ]


def test_qed_pubmedqa_and_covid_qa_give_question_to_passage_pairs(tmp_path):
    archive(tmp_path, "qed_nq_dev", {"qed-dev.jsonlines": lines(json.dumps(
        {"question_text": "who got the first nobel prize in physics", "paragraph_text": "It went to Röntgen , of Germany ( 1901 ) ."}))})
    archive(tmp_path, "pubmedqa_labeled", {"data/ori_pqal.json": json.dumps(
        {"1": {"QUESTION": "Do mitochondria matter?", "CONTEXTS": ["Cells die.", "Mitochondria  move."]}, "2": {"QUESTION": "", "CONTEXTS": ["x"]}})})
    context = "Title of the paper\n\nAbstract: MTCT is the main cause of infection.\nMethods: we looked."
    covid = {"data": [{"paragraphs": [{"context": context, "qas": [
        {"question": "What is the main cause of infection?", "answers": [{"text": "MTCT", "answer_start": context.index("MTCT")}]},
        {"question": "Unanswerable?", "answers": [], "is_impossible": True}]}]}]}
    archive(tmp_path, "covid_qa_deepset", {
        "data/question-answering/200423_covidQA.json": json.dumps(covid),
        "data/faqs/faq_covidbert.csv": lines("question,answer,lang", '"What is a novel coronavirus?","A new one,\nnot seen before.",en'),
        "data/faqs/faq_200327.tsv": lines("question\tanswer\tlang", "Wie?\tSo.\tde", "How long?\tUp to 14 days.\ten"),
        "data/eval_question_similarity_en.csv": lines("question_1,question_2,similar", "What is it?,What is this?,1", "A?,B?,0"),
    })
    assert list(read_pair_set(tmp_path, "qed_nq_dev")) == [
        Pair("who got the first nobel prize in physics", "It went to Röntgen, of Germany (1901).", "qed_nq_dev")]
    assert list(read_pair_set(tmp_path, "pubmedqa_labeled")) == [
        Pair("Do mitochondria matter?", "Cells die. Mitochondria move.", "pubmedqa_labeled")]
    assert [(p.query, p.positive) for p in read_pair_set(tmp_path, "covid_qa_deepset")] == [
        ("What is the main cause of infection?", "Abstract: MTCT is the main cause of infection."),
        ("What is a novel coronavirus?", "A new one, not seen before."),
        ("How long?", "Up to 14 days."),
        ("What is it?", "What is this?"),
    ]


@pytest.mark.parametrize("name, folder", [("wikiqa", "WikiQA/train"), ("twitter_url_paraphrase", "twitterPPDB/train")])
def test_castorini_sets_pair_positives_with_a_negative_of_the_same_anchor(tmp_path, name, folder):
    archive(tmp_path, name, {f"{folder}/a.toks": lines("how are caves formed ?", "how are caves formed ?", "why ?"),
                             f"{folder}/b.toks": lines("a partly submerged cave .", "a cave is formed by water .", "because ."),
                             f"{folder}/sim.txt": lines("0", "1", "x")})
    assert list(read_pair_set(tmp_path, name)) == [
        Pair("how are caves formed?", "a cave is formed by water.", name, "a partly submerged cave.")]


def test_detokenize_undoes_ptb_spacing_only():
    assert detokenize("it 's a dog , ( big ) and does n't bark .") == "it's a dog, (big) and doesn't bark."
    assert detokenize("  Plain   text, untouched. ") == "Plain text, untouched."
