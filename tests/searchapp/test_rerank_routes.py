"""Reranking through the app: the settings, `rerank=` and `rerank_depth=` on /api/search, the UI's
checkbox, and the refusals of a server without a reranker."""

from __future__ import annotations

import re

import pytest
from conftest import TOKEN
from samples import SENTENCES
from test_quality_pages import BASIC, run_in_background, upload

from encoder import reranking_precision
from indexer.reranking import Reranker
from searchapp import create_app
from searchapp.config import ConfigError, load_settings

DEPTH = 3


def make_app(instance, tiny_checkpoint, database_url, **settings):
    return create_app({"INSTANCE": str(instance), "DATABASE_URL": database_url, "MODEL": str(tiny_checkpoint),
                       "TESTING": True, "RERANK_DEPTH": DEPTH} | settings)


@pytest.fixture
def client(instance, tiny_checkpoint, database_url, tiny_reranker):
    return make_app(instance, tiny_checkpoint, database_url, RERANKER=str(tiny_reranker)).test_client()


def search(client, **args):
    response = client.get("/api/search", query_string={"q": "the cat slept by the river", "k": 6} | args)
    return response.status_code, response.get_json()


def test_reranking_is_off_by_default_and_on_when_asked(client):
    status, plain = search(client)
    assert status == 200 and plain["reranked"] is False and plain["rerank_depth"] == 0
    assert not any(result["reranked"] for result in plain["results"])
    for value in ("1", "true", "TRUE"):
        status, body = search(client, rerank=value)
        assert status == 200 and body["reranked"] is True and body["rerank_depth"] == DEPTH  # the RERANK_DEPTH setting
        assert [r["reranked"] for r in body["results"]] == [True] * DEPTH + [False] * (len(body["results"]) - DEPTH)
        assert {r["id"] for r in body["results"][:DEPTH]} == {r["id"] for r in plain["results"][:DEPTH]}
    status, deeper = search(client, rerank="1", rerank_depth=5)
    assert deeper["rerank_depth"] == 5
    status, off = search(client, rerank="0", rerank_depth=5)
    assert off["reranked"] is False


@pytest.mark.parametrize("args, words", [({"rerank": "yes"}, "rerank must be true or false"),
                                         ({"rerank": "1", "rerank_depth": "0"}, "rerank_depth must be a whole number from 1 to 100"),
                                         ({"rerank": "1", "rerank_depth": "101"}, "from 1 to 100")])
def test_bad_rerank_parameters_are_400_json(client, args, words):
    status, body = search(client, **args)
    assert status == 400 and body["error"]["code"] == "invalid_parameter" and words in body["error"]["message"]


def test_the_setting_turns_it_on_and_the_last_value_wins(instance, tiny_checkpoint, database_url, tiny_reranker):
    client = make_app(instance, tiny_checkpoint, database_url, RERANKER=str(tiny_reranker), RERANK=True).test_client()
    assert search(client)[1]["reranked"] is True
    assert search(client, rerank="0")[1]["reranked"] is False
    response = client.get("/api/search?q=cat&rerank=0&rerank=1")  # the form's hidden 0, then the ticked box's 1
    assert response.get_json()["reranked"] is True
    spec = client.get("/api/openapi.json").get_json()
    parameters = {p["name"]: p["schema"] for p in spec["paths"]["/api/search"]["get"]["parameters"]}
    assert parameters["rerank"]["default"] == "true" and parameters["rerank_depth"]["default"] == DEPTH
    assert {"reranked", "rerank_depth"} <= set(spec["components"]["schemas"]["SearchResponse"]["properties"])


def test_a_server_without_a_reranker_refuses_reranking_and_disables_the_box(instance, tiny_checkpoint, database_url, tmp_path):
    client = make_app(instance, tiny_checkpoint, database_url, RERANKER=str(tmp_path / "nowhere")).test_client()
    status, body = search(client, rerank="1")
    assert status == 400 and body["error"]["code"] == "rerank_unavailable"
    assert "reranking is not available on this server" in body["error"]["message"]
    assert search(client)[0] == 200
    page = client.get("/?q=cat").get_data(as_text=True)
    assert re.search(r'<input type="checkbox" name="rerank" value="1" disabled>', page) and "rerank (not available)" in page
    refused = client.get("/?q=cat&rerank=1")
    assert refused.status_code == 400 and "reranking is not available" in refused.get_data(as_text=True)


def test_the_ui_checkbox_is_kept_across_pages_and_labels_the_scores(client):
    page = client.get("/?q=the+cat+slept&k=2").get_data(as_text=True)
    assert '<input type="hidden" name="rerank" value="0">' in page
    assert re.search(r'name="rerank" value="1" >', page)  # unticked: off by default
    reranked = client.get("/?q=the+cat+slept&rerank=0&rerank=1").get_data(as_text=True)
    assert re.search(r'name="rerank" value="1" checked>', reranked)
    assert f"+ reranked top {DEPTH}" in reranked and 'title="reranker score ' in reranked
    next_page = re.search(r'<a rel="next" href="([^"]+)"', reranked).group(1).replace("&amp;", "&")
    assert "rerank=0&rerank=1" in next_page  # the next page is reranked too
    assert re.search(r'name="rerank" value="1" checked>', client.get(next_page).get_data(as_text=True))


def test_switch_settings_from_the_environment(tiny_reranker, tmp_path):
    settings = load_settings(environ={"SEARCHAPP_RERANK": "true", "SEARCHAPP_RERANKER": str(tiny_reranker), "SEARCHAPP_RERANK_DEPTH": "20"})
    assert settings["RERANK"] is True and settings["RERANK_DEPTH"] == 20
    assert load_settings(environ={"SEARCHAPP_RERANK": "0"})["RERANK"] is False
    with pytest.raises(ConfigError, match="SEARCHAPP_RERANK='maybe': expected true or false"):
        load_settings(environ={"SEARCHAPP_RERANK": "maybe"})
    with pytest.raises(ConfigError, match="RERANK is on, but reranking is not available on this server: no reranker at"):
        load_settings({"RERANK": True, "RERANKER": str(tmp_path / "nowhere")}, environ={})
    with pytest.raises(ConfigError, match="RERANK_DEPTH=0: expected a whole number from 1 to 100"):
        load_settings({"RERANK_DEPTH": 0}, environ={})
    assert load_settings(environ={"SEARCHAPP_RERANK_PRECISION": "int8"})["RERANK_PRECISION"] == "int8"
    with pytest.raises(ConfigError, match="RERANK_PRECISION='int4': expected one of auto, int8, bfloat16, float32"):
        load_settings(environ={"SEARCHAPP_RERANK_PRECISION": "int4"})
    # The switch it replaced is refused by name, from the environment or a settings file, rather than ignored.
    with pytest.raises(ConfigError, match=r"RERANK_INT8 is no longer a setting: use RERANK_PRECISION \(auto, int8"):
        load_settings(environ={"SEARCHAPP_RERANK_INT8": "false"})
    settings_file = tmp_path / "settings.json"
    settings_file.write_text('{"RERANK_INT8": true}')
    with pytest.raises(ConfigError, match="RERANK_INT8 is no longer a setting"):
        load_settings(environ={"SEARCHAPP_CONFIG": str(settings_file)})


def test_quality_runs_can_be_reranked_from_the_set_page(instance, tiny_checkpoint, database_url, tiny_reranker, tmp_path):
    app = make_app(instance, tiny_checkpoint, database_url, RERANKER=str(tiny_reranker), API_TOKEN=TOKEN)
    client = app.test_client()
    assert upload(client).status_code == 303
    form = client.get("/quality/sets/library-set", headers=BASIC).get_data(as_text=True)
    assert f'name="rerank" value="1"> + rerank@{DEPTH}' in form
    assert client.post("/quality/sets/library-set/runs", headers=BASIC, data={"mode": ["hybrid"], "rerank": "1"}).status_code == 303
    assert run_in_background(app) == 1
    page = client.get("/quality/sets/library-set", headers=BASIC).get_data(as_text=True)
    assert f"hybrid + rerank@{DEPTH}" in page and 'class="series mode-hybrid reranked"' in page
    assert f"hybrid + rerank@{DEPTH}" in client.get("/quality/runs/1", headers=BASIC).get_data(as_text=True)
    assert f"hybrid + rerank@{DEPTH}" in client.get("/quality", headers=BASIC).get_data(as_text=True)
    without = make_app(instance, tiny_checkpoint, database_url, RERANKER="", API_TOKEN=TOKEN).test_client()
    assert "+ rerank (not available)" in without.get("/quality/sets/library-set", headers=BASIC).get_data(as_text=True)
    refused = without.post("/quality/sets/library-set/runs", headers=BASIC, data={"mode": ["hybrid"], "rerank": "1"})
    assert refused.status_code == 400 and "reranking is not available" in refused.get_data(as_text=True)


@pytest.mark.parametrize("precision", ["auto", "int8", "bfloat16"])
def test_each_rerank_precision_scores_close_to_float32(tiny_reranker, precision):
    exact = Reranker(tiny_reranker, precision="float32").model.score(SENTENCES[0], SENTENCES)
    reranker = Reranker(tiny_reranker, precision=precision)
    assert reranker.precision == (reranking_precision() if precision == "auto" else precision)
    fast = reranker.model.score(SENTENCES[0], SENTENCES)
    assert fast.dtype == exact.dtype and fast.shape == exact.shape
    assert abs(fast - exact).max() < 0.05 and abs(fast - exact).max() > 0  # int8 or bf16 arithmetic, close to float32's
    with pytest.raises(ValueError, match="a reranker's precision is one of auto, int8, bfloat16, float32, not 'int4'"):
        Reranker(tiny_reranker, precision="int4")
