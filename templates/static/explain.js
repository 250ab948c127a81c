// "Why this result?" on the results page: when a result's panel is first opened, fetch its explanation
// from /api/explain and show it in place, built as the document page's server-rendered one is
// (templates/_macros.html, explanation_view). Without this script, or when the fetch fails, the panel
// keeps its link to the document page, which shows the same explanation. Every piece of text goes in
// through textContent, never as markup.
"use strict";

(function () {
  function element(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function mark(text, shade) {
    return shade > 0 ? element("mark", "shade-" + shade, text) : document.createTextNode(text);
  }

  function shadedText(explanation) {
    // The server's offsets count code points; JavaScript strings count UTF-16 units.
    const chars = Array.from(explanation.text);
    const paragraph = element("p", "why-text");
    let position = 0;
    for (const word of explanation.passage_words) {
      paragraph.append(chars.slice(position, word.start).join(""), mark(chars.slice(word.start, word.end).join(""), word.shade));
      position = word.end;
    }
    paragraph.append(chars.slice(position).join(""));
    return paragraph;
  }

  function wordTable(explanation) {
    const table = element("table", "why-words");
    const head = table.createTHead().insertRow();
    head.append(element("th", "", "Query word"), element("th", "", "Closest passage words (cosine)"));
    head.cells[0].scope = head.cells[1].scope = "col";
    const body = table.createTBody();
    for (const word of explanation.query_words) {
      const row = body.insertRow();
      const label = element("th", "", word.text);
      label.scope = "row";
      const cell = element("td");
      for (const match of word.matches) {
        const span = element("span", "match");
        span.append(element("mark", "shade-" + match.shade, explanation.passage_words[match.word].text), " " + match.similarity.toFixed(2));
        cell.append(" ", span);
      }
      row.append(label, cell);
    }
    return table;
  }

  function render(body, explanation) {
    const score = element("p", "why-score", "Cosine of your query and this passage: ");
    score.append(element("strong", "", explanation.score.toFixed(3)));
    if (explanation.truncated) score.append(" · only the part the model reads was aligned");
    body.prepend(score, shadedText(explanation), wordTable(explanation));
  }

  async function load(panel) {
    panel.dataset.state = "loading";
    const body = panel.querySelector(".why-body");
    try {
      const response = await fetch(panel.dataset.explain, { headers: { Accept: "application/json" } });
      const payload = await response.json();
      if (!response.ok) throw new Error(payload.error ? payload.error.message : response.statusText);
      render(body, payload);
      panel.dataset.state = "done";
    } catch (error) {
      body.prepend(element("p", "notice error", "The explanation could not be loaded: " + error.message));
      panel.dataset.state = "failed";
    }
  }

  // `toggle` does not bubble: listen in the capture phase, for every panel on the page at once.
  document.addEventListener("toggle", function (event) {
    const panel = event.target;
    if (panel.matches && panel.matches("details.why[data-explain]") && panel.open && !panel.dataset.state) load(panel);
  }, true);
})();
