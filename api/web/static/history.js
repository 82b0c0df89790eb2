// The history page: recent predictions from /api/v1/predictions, newest first as the server orders them,
// a page at a time.
import { addRow, api, fieldError, formatScore, labelClass, loadToken, saveToken, status } from "./common.js";

const tokenBox = document.getElementById("token");
const limitBox = document.getElementById("limit");

// The API's largest `limit`: the newest rows are read once, then shown a page at a time.
const NEWEST = 1000;
// The rows read and the index of the first one shown; null until a load succeeds.
let rows = null;
let offset = 0;

/** A timestamp as the reader's local date and time; the raw value if it does not parse. */
function when(created) {
  const date = new Date(typeof created === "number" ? created * 1000 : created);
  return Number.isNaN(date.getTime()) ? String(created ?? "") : date.toLocaleString();
}

/** Say once, above the table, which rows come without their text, rather than in every row. */
function textNote(predictions) {
  const note = document.getElementById("text-note");
  const missing = predictions.filter((item) => item.text === undefined).length;
  if (missing === predictions.length) {
    note.textContent =
      "This server does not keep tweet texts (API_HISTORY_TEXT is off): the Tweet column stays empty; " +
      "match rows to your tweets by their id.";
  } else {
    note.textContent = `${missing} of these rows have no text: the server did not keep it when they were stored.`;
  }
  note.hidden = missing === 0;
}

/** Fill the table with the page of ``rows`` that starts at ``offset``, and the pager under it. */
function show() {
  const size = Number(limitBox.value);
  const body = document.getElementById("history-body");
  body.replaceChildren();
  for (const item of rows.slice(offset, offset + size)) {
    const kept = item.text !== undefined;
    const row = addRow(body, [
      [String(item.id ?? ""), "id"],
      [kept ? item.text : "", kept ? "tweet" : "tweet not-kept"],
      [item.label, labelClass(item.label)],
      [formatScore(item.score), "num"],
      [item.model, "model"],
      // version and token as documented; model_version and token_name as some servers named them.
      [item.version ?? item.model_version ?? "", "version"],
      [when(item.created), "when"],
      [item.token ?? item.token_name ?? "", "token-name"],
    ]);
    if (!kept) {
      row.cells[1].title = "text not kept by this server";
    }
  }
  const last = Math.min(offset + size, rows.length);
  const of = rows.length === NEWEST ? `the newest ${NEWEST}` : String(rows.length);
  document.getElementById("page-text").textContent = rows.length ? `Rows ${offset + 1}-${last} of ${of}` : "";
  document.getElementById("previous").disabled = offset === 0;
  document.getElementById("next").disabled = last >= rows.length;
  document.getElementById("history").hidden = false;
}

/** Move ``pages`` pages (-1 back, 1 on) and show it. */
function turn(pages) {
  const size = Number(limitBox.value);
  offset = Math.max(0, Math.min(offset + pages * size, rows.length - 1));
  offset -= offset % size;
  show();
}

/** Fill the live accuracy table from /api/v1/feedback's answer; hide it while no feedback came. */
function showAccuracy(data) {
  const body = document.getElementById("accuracy-body");
  body.replaceChildren();
  for (const item of data.models) {
    addRow(body, [
      [item.model, "model"],
      [item.version, "model"],
      [String(item.feedback), "num"],
      [`${(100 * item.accuracy).toFixed(1)}%`, "num"],
    ]);
  }
  document.getElementById("accuracy-window").textContent =
    `Share of the newest ${data.window} feedback labels of each model and version that it had given.`;
  document.getElementById("accuracy").hidden = data.models.length === 0;
}

/** Load the live accuracy; a server without it (older, or its database down) leaves the table hidden. */
async function loadAccuracy(token) {
  try {
    showAccuracy(await api("/api/v1/feedback", { token }));
  } catch {
    document.getElementById("accuracy").hidden = true;
  }
}

/** Load the history with the token of the form. */
async function load(event) {
  event?.preventDefault();
  fieldError("token", "");
  const token = tokenBox.value.trim();
  if (!token) {
    fieldError("token", "Enter your bearer token.");
    tokenBox.focus();
    return;
  }
  saveToken(token);
  status("Loading...");
  try {
    const data = await api(`/api/v1/predictions?limit=${NEWEST}`, { token });
    rows = data.predictions;
    offset = 0;
    textNote(rows);
    show();
    await loadAccuracy(token);
    status(rows.length ? `${rows.length} loaded, newest first.` : "No predictions yet.", "ok");
  } catch (error) {
    status("");
    if (error.status === 401) {
      fieldError("token", "This token was refused: check it, or ask for a new one.");
    } else if (error.status === 404) {
      status("This server keeps no prediction history.", "error");
    } else {
      status(error.message || "The request failed.", "error");
    }
  }
}

tokenBox.value = loadToken();
document.getElementById("history-form").addEventListener("submit", load);
// A new page size starts again from the newest row; no new request.
limitBox.addEventListener("change", () => {
  offset = 0;
  if (rows) {
    show();
  }
});
document.getElementById("previous").addEventListener("click", () => turn(-1));
document.getElementById("next").addEventListener("click", () => turn(1));
if (tokenBox.value) {
  load();
}
