// The form page: client-side checks that mirror the server's limits, then one predict call.
import { addRow, api, fieldError, formatScore, labelClass, loadToken, saveToken, status } from "./common.js";

const form = document.getElementById("predict-form");
const tweetsBox = document.getElementById("tweets");
const tokenBox = document.getElementById("token");
const modelBox = document.getElementById("model");
const storeBox = document.getElementById("store");
const explainBox = document.getElementById("explain");

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

/** Fill the model chooser from /api/v1/models (needs the token), keeping the current choice. */
async function readModels() {
  const token = tokenBox.value.trim();
  if (!token) {
    return;
  }
  try {
    const data = await api("/api/v1/models", { token });
    const chosen = modelBox.value;
    modelBox.replaceChildren(new Option("server default", ""));
    for (const model of data.models) {
      const text = `${model.name}${model.name === data.default ? " (default)" : ""} - accuracy ${model.metrics.accuracy}`;
      modelBox.append(new Option(text, model.name));
    }
    modelBox.value = [...modelBox.options].some((o) => o.value === chosen) ? chosen : "";
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

// ?explain=true: the words that moved a score, marked in the tweet. Built from DOM nodes: the tweet and
// its words only ever reach the page as text nodes, never as HTML.

/** A contribution to the log-odds with its sign and two decimals: "+1.23", "-0.45". */
function formatContribution(value) {
  return `${value > 0 ? "+" : ""}${value.toFixed(2)}`;
}

/** The entries of ``words`` that are among the top ones, by index: each top entry claims one equal word. */
function topIndexes(explanation) {
  const chosen = new Set();
  for (const top of [...explanation.top_positive, ...explanation.top_negative]) {
    const index = explanation.words.findIndex(
      (w, i) => !chosen.has(i) && w.word === top.word && w.contribution === top.contribution,
    );
    if (index !== -1) {
      chosen.add(index);
    }
  }
  return chosen;
}

/** A <mark> holding ``word`` as text, its sign as a class (and a + or - after it, from the stylesheet). */
function mark(entry) {
  const sign = entry.contribution > 0 ? "pos" : "neg";
  const element = document.createElement("mark");
  element.className = `why ${sign}`;
  element.textContent = entry.word;
  element.dataset.contribution = String(entry.contribution);
  const direction = entry.contribution > 0 ? "raised" : "lowered";
  element.title = `${direction} the score: ${formatContribution(entry.contribution)} to the log-odds`;
  return element;
}

const WORD_CHAR = /[\p{L}\p{N}_]/u;

/** Where ``word`` stands alone in ``text`` from ``from`` on (not inside a longer word), or -1. */
function findWord(text, word, from) {
  for (let at = text.indexOf(word, from); at !== -1; at = text.indexOf(word, at + 1)) {
    const before = at > 0 && WORD_CHAR.test(word[0]) && WORD_CHAR.test(text[at - 1]);
    const end = at + word.length;
    const after = end < text.length && WORD_CHAR.test(word[word.length - 1]) && WORD_CHAR.test(text[end]);
    if (!before && !after) {
      return at;
    }
  }
  return -1;
}

/** The tweet ``text`` as nodes, its top words in <mark>s; the rest, and anything not found, as text. */
function markedText(text, explanation) {
  const tops = topIndexes(explanation);
  const nodes = [];
  let cursor = 0;
  explanation.words.forEach((entry, index) => {
    // Words come in the tweet's order, as written: each is looked for after the last one found.
    const at = entry.word ? findWord(text, entry.word, cursor) : -1;
    if (at === -1) {
      return;
    }
    const end = at + entry.word.length;
    if (tops.has(index)) {
      nodes.push(document.createTextNode(text.slice(cursor, at)), mark(entry));
    } else {
      nodes.push(document.createTextNode(text.slice(cursor, end)));
    }
    cursor = end;
  });
  nodes.push(document.createTextNode(text.slice(cursor)));
  return nodes;
}

/** One line of text naming the top words each way with their contributions: the marks in words. */
function summary(explanation) {
  const list = (entries) => entries.map((e) => `${e.word} ${formatContribution(e.contribution)}`).join(", ");
  const parts = [];
  if (explanation.top_positive.length) {
    parts.push(`raised by ${list(explanation.top_positive)}`);
  }
  if (explanation.top_negative.length) {
    parts.push(`lowered by ${list(explanation.top_negative)}`);
  }
  const line = document.createElement("span");
  line.className = "why-summary";
  line.textContent = parts.length ? parts.join("; ") : "no word moved the score";
  return line;
}

/** Fill the tweet ``cell`` with ``text``, its top words marked, and a line naming them. */
function showExplained(cell, text, explanation) {
  const tweet = document.createElement("span");
  tweet.className = "tweet-text";
  tweet.append(...markedText(text, explanation));
  cell.replaceChildren(tweet, summary(explanation));
}

/** Fill the results table (the words that moved each score marked, if asked) and the positive-share bar. */
function showResults(lines, answer) {
  const body = document.getElementById("results-body");
  body.replaceChildren();
  let positive = 0;
  for (const [number, line] of lines) {
    const { label, score, explanation } = answer[String(number)];
    positive += label === "Positive" ? 1 : 0;
    const row = addRow(body, [
      [String(number), "num"],
      [line, "tweet"],
      [label, labelClass(label)],
      [formatScore(score), "num"],
    ]);
    if (explanation) {
      showExplained(row.cells[1], line, explanation);
    }
  }
  const share = Math.round((100 * positive) / lines.length);
  // CSSOM, not a style attribute: allowed under style-src 'self'.
  document.getElementById("share-fill").style.width = `${share}%`;
  const text = `${positive} of ${lines.length} positive (${share}%)`;
  document.getElementById("share-bar").setAttribute("aria-label", text);
  document.getElementById("share-text").textContent = text;
  document.getElementById("results").hidden = false;
}

/** Check the form; call the API; show the answer or the problem. */
async function submit(event) {
  event.preventDefault();
  for (const id of ["tweets", "token", "model"]) {
    fieldError(id, "");
  }
  status("");
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
  const query = new URLSearchParams({ detail: "true" });
  if (modelBox.value) {
    query.set("model", modelBox.value);
  }
  if (!storeBox.checked) {
    query.set("store", "false");
  }
  if (explainBox.checked) {
    query.set("explain", "true");
  }
  status("Labelling...");
  try {
    const answer = await api(`/api/v1/predict?${query}`, { token, body: Object.fromEntries(lines) });
    showResults(lines, answer);
    status(`${lines.length} labelled.`, "ok");
  } catch (error) {
    status("");
    showApiError(error);
  }
}

tokenBox.value = loadToken();
tokenBox.addEventListener("change", () => {
  saveToken(tokenBox.value.trim());
  readModels();
});
form.addEventListener("submit", submit);
readLimits();
readModels();
