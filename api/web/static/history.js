// The history page: predictions from /api/v1/predictions, newest first as the server orders them, one
// request per page of "Rows per page" rows, following the answer's `next` cursor.
import { addRow, api, fieldError, formatScore, labelClass, loadToken, saveToken, status } from "./common.js";

const tokenBox = document.getElementById("token");
const limitBox = document.getElementById("limit");

// The page shown: its rows, the token that read them, the `before` cursor of every page from the newest
// to this one (null for the newest: Previous pops it), and its `next` (null on the oldest page).
// Null until a load succeeds.
let shown = null;
// Counts requests, so that an answer overtaken by a later request (a new page size, say) is dropped.
let asked = 0;

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

/** Fill the table with the page ``shown`` holds, and the pager under it. */
function show() {
  const body = document.getElementById("history-body");
  body.replaceChildren();
  for (const item of shown.rows) {
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
  const first = (shown.cursors.length - 1) * shown.size + 1;
  const last = first + shown.rows.length - 1;
  document.getElementById("page-text").textContent = shown.rows.length ? `Rows ${first}-${last}` : "";
  document.getElementById("previous").disabled = shown.cursors.length === 1;
  document.getElementById("next").disabled = shown.next === null;
  document.getElementById("history").hidden = false;
}

/** Read and show the page of ``size`` rows below ``cursors``' last cursor (null: the newest rows).

Return whether it is shown; an answer overtaken by a later request is dropped, its error too. */
async function read(token, size, cursors) {
  const before = cursors[cursors.length - 1];
  const request = ++asked;
  status("Loading...");
  document.getElementById("previous").disabled = true;
  document.getElementById("next").disabled = true;
  const query = before === null ? `limit=${size}` : `limit=${size}&before=${before}`;
  let data;
  try {
    data = await api(`/api/v1/predictions?${query}`, { token });
  } catch (error) {
    if (request === asked) {
      failed(error);
    }
    return false;
  }
  if (request !== asked) {
    return false;
  }
  // A server without cursors answers no `next`: its newest rows are all there is to page.
  const next = Number.isSafeInteger(data.next) ? data.next : null;
  shown = { token, size, cursors, rows: data.predictions, next };
  textNote(shown.rows);
  show();
  status(shown.rows.length ? `${shown.rows.length} loaded, shown newest first.` : "No predictions yet.", "ok");
  return true;
}

/** Say what went wrong reading the history: a refused token under its field, the rest on the status line. */
function failed(error) {
  status("");
  if (error.status === 401) {
    fieldError("token", "This token was refused: check it, or ask for a new one.");
  } else if (error.status === 404) {
    status("This server keeps no prediction history.", "error");
  } else {
    status(error.message || "The request failed.", "error");
  }
  if (shown) {
    show(); // the pager as it was: the page shown is still the one its buttons move from
  }
}

/** Show the page one older (``pages`` 1) or one newer (-1) than the one shown. */
function turn(pages) {
  const cursors = pages > 0 ? [...shown.cursors, shown.next] : shown.cursors.slice(0, -1);
  read(shown.token, shown.size, cursors);
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

/** Load the history with the token of the form, from its newest row. */
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
  if (await read(token, Number(limitBox.value), [null])) {
    await loadAccuracy(token);
  }
}

tokenBox.value = loadToken();
document.getElementById("history-form").addEventListener("submit", load);
// A new page size starts again from the newest row, read in pages of the new size.
limitBox.addEventListener("change", () => {
  if (shown) {
    read(shown.token, Number(limitBox.value), [null]);
  }
});
document.getElementById("previous").addEventListener("click", () => turn(-1));
document.getElementById("next").addEventListener("click", () => turn(1));
if (tokenBox.value) {
  load();
}
