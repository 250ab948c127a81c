"""The /quality pages: the operator's labelled sets, their runs through the live search service and
the history of their figures, as plain HTML forms and server-rendered SVG (no JavaScript needed).

They are the operator's, as writes are: behind the write token (SEARCHAPP_API_TOKEN), which a browser
gives as the password of HTTP Basic auth (any user name) and a script as `Authorization: Bearer`.
Without a token configured they are off. A form is refused when the browser says it comes from
another site: Basic auth rides along with any request, so a page elsewhere could otherwise post here.
"""

from __future__ import annotations

import io
from urllib.parse import urlsplit

from flask import Blueprint, abort, current_app, redirect, render_template, request, url_for
from werkzeug.datastructures import FileStorage

from indexer import quality_store
from indexer.quality import METRIC_FIELDS, add_labelled, latest_runs
from indexer.quality_store import Labelled, Run
from indexer.retrieval import MODES

from .access import basic_password, sent_bytes, token_matches
from .charts import metric_chart, win_loss_chart
from .service import search_service

blueprint = Blueprint("quality", __name__)
WORST_SHOWN = 10
PROGRESS_REFRESH_SECONDS = 2
CHALLENGE = 'Basic realm="bertsearch quality: any user name, the API token as password", charset="UTF-8"'
SIGN_IN = ("sign in with any user name and the server's SEARCHAPP_API_TOKEN as password "
           "(a script sends Authorization: Bearer <token>)")


@blueprint.before_request
def require_token():
    """None to go on; else the page that says why not and what to do."""
    token = current_app.config["API_TOKEN"]
    if not token:
        return _refusal(403, "The quality pages are off on this server: set SEARCHAPP_API_TOKEN to enable them "
                             "(they take the same token as the API's writes).")
    scheme, _, value = request.headers.get("Authorization", "").partition(" ")
    scheme = scheme.lower()
    if scheme == "basic":
        given = basic_password(value)
        if given is None or not token_matches(given, token):
            return _refusal(401, f"That password is not the token: {SIGN_IN}.")
    elif scheme == "bearer":
        if not token_matches(sent_bytes(value.strip()), token):
            return _refusal(403, "The bearer token is not valid.")
    else:
        return _refusal(401, f"The quality pages need the API token: {SIGN_IN}.")
    if request.method == "POST" and _from_another_site():
        return _refusal(403, "This form was sent from another site; open the quality page here and send it again.")
    return None


def _refusal(status: int, message: str):
    page = render_template("error.html", status=status, message=message), status
    return page + ({"WWW-Authenticate": CHALLENGE},) if status == 401 else page


def _from_another_site() -> bool:
    origin = request.headers.get("Origin")
    return request.headers.get("Sec-Fetch-Site") == "cross-site" or (origin is not None and urlsplit(origin).netloc != request.host)


def _store():
    return search_service().index.store


@blueprint.get("")
def overview(error: str | None = None, status: int = 200):
    store = _store()
    sets = quality_store.labelled_sets(store)
    latest = {labelled.name: latest_runs(quality_store.runs(store, labelled.name)) for labelled in sets}
    return render_template("quality.html", sets=sets, latest=latest, active=quality_store.runs(store, active_only=True),
                           collections=search_service().collections(), metrics=METRIC_FIELDS, error=error,
                           form=request.form), status


@blueprint.post("/sets")
def upload():
    """A new set from a multipart form: name, collection, queries (BEIR queries.jsonl), qrels (TSV)."""
    try:
        queries, qrels = _uploaded("queries", "a queries.jsonl"), _uploaded("qrels", "a qrels .tsv")
        added = add_labelled(_store(), request.form.get("name", "").strip(), request.form.get("collection", "").strip(),
                             io.TextIOWrapper(queries.stream, encoding="utf-8"),
                             io.TextIOWrapper(qrels.stream, encoding="utf-8", newline=""), queries.filename, qrels.filename)
    except ValueError as error:  # UnicodeDecodeError included: a file that is not UTF-8 text
        return overview(error=str(error), status=400)
    return redirect(url_for(".set_page", name=added.name), 303)


def _uploaded(field: str, what: str) -> FileStorage:
    upload = request.files.get(field)
    if upload is None or not upload.filename:
        raise ValueError(f"choose {what} file for {field!r}")
    return upload


@blueprint.post("/sets/<name>/runs")
def start_runs(name: str):
    labelled = _labelled(name)
    modes = [mode for mode in MODES if mode in request.form.getlist("mode")]
    if not modes:
        return set_page(name, error=f"tick one mode at least ({', '.join(MODES)})", status=400)
    rerank = current_app.config["RERANK_DEPTH"] if request.form.get("rerank") else 0
    if rerank and (problem := search_service().reranker.problem):
        return set_page(name, error=problem, status=400)
    for mode in modes:
        quality_store.add_run(_store(), labelled, mode, rerank=rerank)
    return redirect(url_for(".set_page", name=name), 303)


@blueprint.get("/sets/<name>")
def set_page(name: str, error: str | None = None, status: int = 200):
    """A set's history: its runs, a chart per metric over index versions, the per-query wins and
    losses of one run (`b`, default the latest) against another (`a`, default the one before), and
    `b`'s worst queries."""
    store, labelled = _store(), _labelled(name)
    runs = quality_store.runs(store, name)
    finished = [run for run in runs if run.metrics is not None]
    b = _chosen(finished, "b", -1)
    a = _chosen(finished, "a", -2)
    comparison = None
    if a is not None and b is not None and a.id != b.id:
        comparison = win_loss_chart(a, b, quality_store.outcomes(store, a.id), quality_store.outcomes(store, b.id), labelled.queries)
    return render_template("quality_set.html", labelled=labelled, runs=runs, finished=finished, a=a, b=b, modes=MODES, metrics=METRIC_FIELDS,
                           charts=[metric_chart(runs, metric) for metric in METRIC_FIELDS], comparison=comparison,
                           worst=worst_queries(store, labelled, b) if b else [], error=error,
                           rerank_problem=search_service().reranker.problem, rerank_depth=current_app.config["RERANK_DEPTH"],
                           refresh=any(not run.finished for run in runs) and PROGRESS_REFRESH_SECONDS), status


def _chosen(finished: list[Run], parameter: str, default: int) -> Run | None:
    """The finished run named by `?parameter=ID`, else the one at `default` (-1: the latest)."""
    wanted = request.args.get(parameter, type=int)
    if wanted is not None:
        return next((run for run in finished if run.id == wanted), None)
    return finished[default] if len(finished) >= abs(default) else None


@blueprint.get("/runs/<int:run_id>")
def run_page(run_id: int):
    """One run: its progress (the page reloads itself while it runs), then its figures and worst queries."""
    store = _store()
    run = quality_store.run(store, run_id)
    if run is None:
        abort(404)
    labelled = _labelled(run.set_name)
    return render_template("quality_run.html", run=run, labelled=labelled, metrics=METRIC_FIELDS,
                           worst=worst_queries(store, labelled, run),
                           refresh=not run.finished and PROGRESS_REFRESH_SECONDS)


def _labelled(name: str) -> Labelled:
    labelled = quality_store.labelled_set(_store(), name)
    if labelled is None:
        abort(404)
    return labelled


def worst_queries(store, labelled: Labelled, run: Run) -> list[dict]:
    """The run's lowest nDCG@10 queries so far, each with its text, its judged documents and its top
    results (marked with their grade)."""
    ranked = sorted(quality_store.outcomes(store, run.id), key=lambda o: (o.ndcg, o.query_id))[:WORST_SHOWN]
    return [{"outcome": o, "text": labelled.queries.get(o.query_id, ""), "judged": labelled.qrels.get(o.query_id, {}),
             "top": [(doc, labelled.qrels.get(o.query_id, {}).get(doc, 0)) for doc in o.top_ids]} for o in ranked]
