// The form page's results: one model's labels, or every model's side by side (?model=all), the models
// that answered (the X-Model headers), the positive share of each, and a CSV of what is shown.
// Tweets reach the page as text (textContent) only.
import { addRow, formatScore, labelClass } from "./common.js";
import { showExplained } from "./explain.js";

const byId = (id) => document.getElementById(id);

/** The models that answered, from the predict answer's X-Model and X-Model-Version headers, in order. */
export function answeringModels(headers) {
  const names = (headers.get("X-Model") || "").split(",").filter(Boolean);
  const versions = (headers.get("X-Model-Version") || "").split(",");
  return names.map((name, index) => ({ name, version: versions[index] || "" }));
}

/** Hide and empty the results: nothing of an earlier answer stays under a new problem. */
export function clearResults() {
  byId("results").hidden = true;
  for (const id of ["results-head", "results-body", "shares"]) {
    byId(id).replaceChildren();
  }
  byId("answered-by").textContent = "";
}

/** A bar showing ``positive`` of ``total`` with its text; the single model's keeps the ids tests know. */
function shareBar(caption, positive, total, single) {
  const share = Math.round((100 * positive) / total);
  const text = `${caption}${positive} of ${total} positive (${share}%)`;
  const box = document.createElement("div");
  box.className = "share";
  const bar = document.createElement("div");
  bar.className = "bar";
  bar.setAttribute("role", "img");
  bar.setAttribute("aria-label", text);
  const fill = document.createElement("div");
  fill.className = "fill";
  const line = document.createElement("p");
  line.textContent = text;
  if (single) {
    [bar.id, fill.id, line.id] = ["share-bar", "share-fill", "share-text"];
  }
  bar.append(fill);
  box.append(bar, line);
  byId("shares").append(box);
  // CSSOM, not a style attribute: allowed under style-src 'self'. Set once drawn, so the width animates.
  requestAnimationFrame(() => {
    fill.style.width = `${share}%`;
  });
}

/** The table's header cells. */
function header(names) {
  const row = byId("results-head");
  const cells = ["Line", "Tweet", ...names.flatMap((name) => [`${name} label`, `${name} score`])];
  const single = names.length === 1;
  row.replaceChildren(
    ...cells.map((text, index) => {
      const cell = document.createElement("th");
      cell.textContent = single && index > 1 ? ["Label", "Score"][index - 2] : text;
      cell.className = index === 0 || text.endsWith("score") ? "num" : "";
      return cell;
    }),
  );
}

/** Each model's {label, score, explanation} for one tweet of the answer. */
function perModel(entry, models, compare) {
  return compare ? models.map((model) => entry[model.name]) : [entry];
}

/** The models of the columns: those that answered, or, from a server that sends no X-Model, the compared
 * ones from the answer's keys, else one unnamed model. */
function modelsOf(firstEntry, answered, compare) {
  if (answered.length) {
    return answered;
  }
  return (compare ? Object.keys(firstEntry || {}) : [""]).map((name) => ({ name, version: "" }));
}

/**
 * Fill the results from ``answer`` (detail=true) to ``lines``; ``answered`` names the models, ``compare`` if
 * every model was asked. Return the rows a CSV export writes: one per tweet and model, as shown.
 */
export function showResults(lines, answer, answered, compare) {
  clearResults();
  const models = modelsOf(answer[String(lines[0][0])], answered, compare);
  header(compare ? models.map((model) => model.name) : ["Label"]);
  const body = byId("results-body");
  const positives = models.map(() => 0);
  const exported = [];
  let disagree = 0;
  for (const [number, line] of lines) {
    const answers = perModel(answer[String(number)], models, compare);
    const cells = [[String(number), "num"], [line, "tweet"]];
    answers.forEach(({ label, score }, index) => {
      positives[index] += label === "Positive" ? 1 : 0;
      cells.push([label, labelClass(label)], [formatScore(score), "num"]);
      const { name, version } = models[index];
      exported.push({ line: number, tweet: line, model: name, version, label, score });
    });
    const row = addRow(body, cells);
    if (new Set(answers.map((a) => a.label)).size > 1) {
      row.classList.add("disagree");
      disagree += 1;
    }
    if (!compare && answers[0].explanation) {
      showExplained(row.cells[1], line, answers[0].explanation);
    }
  }
  models.forEach((model, index) => {
    shareBar(compare ? `${model.name}: ` : "", positives[index], lines.length, !compare);
  });
  const names = answered.map((model) => `${model.name} ${model.version}`.trim()).join(", ");
  const split = compare ? `; they disagree on ${disagree} of ${lines.length}` : "";
  byId("answered-by").textContent = `Answered by ${names || "the server's default model"}${split}.`;
  byId("results").hidden = false;
  return exported;
}

// A cell a spreadsheet would run as a formula starts with one of these: it is written after a quote.
const FORMULA_START = /^[=+\-@\t\r]/;

/** One CSV field (RFC 4180): quoted when it holds a comma, a quote or a line break. */
function csvField(value) {
  const text = String(value ?? "");
  const safe = FORMULA_START.test(text) ? `'${text}` : text;
  return /[",\r\n]/.test(safe) ? `"${safe.replaceAll('"', '""')}"` : safe;
}

const CSV_COLUMNS = ["line", "tweet", "model", "version", "label", "score"];

/** The shown results as CSV text: a header, then one line per tweet and model, the API's full score. */
export function resultsCsv(rows) {
  const lines = [CSV_COLUMNS, ...rows.map((row) => CSV_COLUMNS.map((column) => row[column]))];
  return lines.map((fields) => fields.map(csvField).join(",")).join("\r\n") + "\r\n";
}

/** Save ``text`` as the file ``name`` from a Blob URL: built in the page, no request. */
export function saveText(text, name) {
  const url = URL.createObjectURL(new Blob([text], { type: "text/csv;charset=utf-8" }));
  const link = Object.assign(document.createElement("a"), { href: url, download: name, hidden: true });
  document.body.append(link);
  link.click();
  link.remove();
  // Revoked once the download has had time to start (it reads the Blob after the click returns).
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
}
