// The form page: client-side checks that mirror the server's limits, then one predict call.
import { api, apiResponse, fieldError, loadToken, saveToken, status } from "./common.js";
import { answeringModels, clearResults, resultsCsv, saveText, showResults } from "./results.js";

const form = document.getElementById("predict-form");
const tweetsBox = document.getElementById("tweets");
const tokenBox = document.getElementById("token");
const modelBox = document.getElementById("model");
const storeBox = document.getElementById("store");
const explainBox = document.getElementById("explain");
const compareBox = document.getElementById("compare");

// The rows of the results shown, for the CSV export; null while none are.
let shown = null;

// Filled from the OpenAPI document, the server's own statement of its limits; null until read.
let limits = null;

/** Read the limits from /api/v1/openapi.json (public): one source of truth for both sides. */
async function readLimits() {
  try {
    const spec = await api("/api/v1/openapi.json");
    const tweets = spec.components.schemas.Tweets;
    limits = {
      items: tweets.maxProperties,
      tweetChars: tweets.additionalProperties.maxLength,
      keyChars: tweets.propertyNames.maxLength,
    };
    document.getElementById("tweets-hint").textContent =
      `up to ${limits.items} lines, ${limits.tweetChars} characters each`;
  } catch {
    status("Could not read the API's limits; the server will still check them.", "warn");
  }
}

/** Add each model's held-out accuracy to its option (the names and the default come with the page). */
async function readModels() {
  const token = tokenBox.value.trim();
  if (!token) {
    return;
  }
  try {
    const data = await api("/api/v1/models", { token });
    for (const model of data.models) {
      const option = [...modelBox.options].find((o) => o.value === model.name);
      if (option) {
        const marked = `${model.name}${model.name === data.default ? " (default)" : ""}`;
        option.textContent = `${marked} - accuracy ${model.metrics.accuracy}`;
      }
    }
    fieldError("token", "");
  } catch (error) {
    showApiError(error);
  }
}

/** Non-blank lines as [line number, text]; line numbers count from 1 and are the request's keys. */
function parseLines(text) {
  return text
    .split(/\r?\n/)
    .map((line, index) => [index + 1, line])
    .filter(([, line]) => line.trim() !== "");
}

/** Characters as the server counts them (code points), not UTF-16 units. */
function length(text) {
  return [...text].length;
}

/** Return the tweets field's problem with ``lines``, or "". */
function checkTweets(lines) {
  if (lines.length === 0) {
    return "Enter at least one tweet, one per line.";
  }
  if (!limits) {
    return "";
  }
  if (lines.length > limits.items) {
    return `${lines.length} tweets; the limit is ${limits.items} per request.`;
  }
  const tooLong = lines.filter(([, line]) => length(line) > limits.tweetChars);
  if (tooLong.length) {
    const [number, line] = tooLong[0];
    const more = tooLong.length > 1 ? ` (and ${tooLong.length - 1} more lines)` : "";
    return `Line ${number} is ${length(line)} characters; the limit is ${limits.tweetChars}${more}.`;
  }
  const longKey = lines.find(([number]) => String(number).length > limits.keyChars);
  if (longKey) {
    return `Line ${longKey[0]} is past the last line number the server accepts as an id.`;
  }
  return "";
}

/** Put an API error next to the field it is about, else on the status line. */
function showApiError(error) {
  if (error.status === 401) {
    fieldError("token", "This token was refused: check it, or ask for a new one.");
  } else if (error.status === 429) {
    status("Too many requests: wait a moment and try again.", "error");
  } else if (error.key === "model") {
    fieldError("model", error.message);
  } else if (error.status === 400 && error.key !== undefined && /^\d+$/.test(error.key)) {
    fieldError("tweets", `Line ${error.key}: ${error.message}`);
  } else if (error.code === "too_many_items" || error.status === 413) {
    fieldError("tweets", error.message);
  } else {
    status(error.message || "The request failed.", "error");
  }
}

/** Check the form; call the API; show the answer or the problem. */
async function submit(event) {
  event.preventDefault();
  for (const id of ["tweets", "token", "model"]) {
    fieldError(id, "");
  }
  status("");
  // A new attempt: the results of an earlier one must not stand under its problems.
  clearResults();
  shown = null;
  const lines = parseLines(tweetsBox.value);
  const token = tokenBox.value.trim();
  const problems = { tweets: checkTweets(lines), token: token ? "" : "Enter your bearer token." };
  for (const [id, message] of Object.entries(problems)) {
    fieldError(id, message);
  }
  const first = Object.keys(problems).find((id) => problems[id]);
  if (first) {
    document.getElementById(first).focus();
    return;
  }
  saveToken(token);
  const compare = compareBox.checked;
  const query = new URLSearchParams({ detail: "true" });
  if (compare) {
    query.set("model", "all");
  } else if (modelBox.value) {
    query.set("model", modelBox.value);
  }
  if (!storeBox.checked) {
    query.set("store", "false");
  }
  if (explainBox.checked && !compare) {
    query.set("explain", "true");
  }
  status("Labelling...");
  try {
    const body = Object.fromEntries(lines);
    const { data, headers } = await apiResponse(`/api/v1/predict?${query}`, { token, body });
    shown = showResults(lines, data, answeringModels(headers), compare);
    status(`${lines.length} labelled.`, "ok");
  } catch (error) {
    status("");
    showApiError(error);
  }
}

/** Compare mode asks every model (?model=all): the model chooser and explain, which is per model, step aside. */
function compareChanged() {
  const compare = compareBox.checked;
  modelBox.disabled = compare;
  explainBox.disabled = compare;
  document.getElementById("compare-hint").hidden = !compare;
}

/** Save the results shown as a CSV built in the page: line, tweet, model, version, label, score. */
function exportCsv() {
  if (shown) {
    const stamp = new Date().toISOString().slice(0, 19).replaceAll(":", "-");
    saveText(resultsCsv(shown), `labels-${stamp}.csv`);
  }
}

tokenBox.value = loadToken();
tokenBox.addEventListener("change", () => {
  saveToken(tokenBox.value.trim());
  readModels();
});
form.addEventListener("submit", submit);
compareBox.addEventListener("change", compareChanged);
document.getElementById("export").addEventListener("click", exportCsv);
readLimits();
readModels();
compareChanged();
