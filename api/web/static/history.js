// The history page: recent predictions from /api/v1/predictions, newest first as the server orders them.
import { addRow, api, fieldError, formatScore, labelClass, loadToken, saveToken, status } from "./common.js";

const tokenBox = document.getElementById("token");
const limitBox = document.getElementById("limit");

/** A timestamp as the reader's local date and time; the raw value if it does not parse. */
function when(created) {
  const date = new Date(typeof created === "number" ? created * 1000 : created);
  return Number.isNaN(date.getTime()) ? String(created ?? "") : date.toLocaleString();
}

/** Fill the table with ``predictions`` in the order given. */
function show(predictions) {
  const body = document.getElementById("history-body");
  body.replaceChildren();
  for (const item of predictions) {
    const row = addRow(body, [
      [item.text ?? "(text not kept)", item.text === undefined ? "tweet muted" : "tweet"],
      [item.label, labelClass(item.label)],
      [formatScore(item.score), "num"],
      [when(item.created), "when"],
      // model_version and token_name as documented; version and token as early servers named them.
      [`${item.model} ${item.model_version ?? item.version ?? ""}`.trim(), "model"],
      [item.token_name ?? item.token ?? "", "token-name"],
    ]);
    row.dataset.id = String(item.id ?? "");
  }
  document.getElementById("history").hidden = false;
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
    const data = await api(`/api/v1/predictions?limit=${encodeURIComponent(limitBox.value)}`, { token });
    show(data.predictions);
    await loadAccuracy(token);
    status(data.predictions.length ? `${data.predictions.length} shown, newest first.` : "No predictions yet.", "ok");
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
limitBox.addEventListener("change", load);
if (tokenBox.value) {
  load();
}
