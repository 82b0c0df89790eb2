// Shared by the pages: the token in sessionStorage, API calls, and messages next to fields.
// API data (tweets are user content) only ever reaches the page through textContent.

const TOKEN_KEY = "sentiment-api-token";

/** The token of this tab, or "". sessionStorage: gone when the tab closes, never sent by itself. */
export function loadToken() {
  return sessionStorage.getItem(TOKEN_KEY) || "";
}

/** Remember the token for this tab only. */
export function saveToken(token) {
  if (token) {
    sessionStorage.setItem(TOKEN_KEY, token);
  } else {
    sessionStorage.removeItem(TOKEN_KEY);
  }
}

/** Show ``message`` under the field ``id`` (its element is ``id-error``), or clear it when empty. */
export function fieldError(id, message) {
  const box = document.getElementById(`${id}-error`);
  const field = document.getElementById(id);
  box.textContent = message || "";
  box.hidden = !message;
  if (field) {
    field.setAttribute("aria-invalid", message ? "true" : "false");
  }
}

/** Set the status line next to the button. */
export function status(message, kind = "") {
  const line = document.getElementById("status");
  line.textContent = message;
  line.className = `status ${kind}`;
}

/** An API error with the HTTP status and the JSON error body's code, message and key. */
export class ApiError extends Error {
  constructor(status, error) {
    super(error.message || `HTTP ${status}`);
    this.status = status;
    this.code = error.code || "";
    this.key = error.key;
  }
}

/** Call the API; return the parsed JSON, or throw ApiError with the server's own message. */
export async function api(path, options = {}) {
  return (await apiResponse(path, options)).data;
}

/** Call the API; return {data: the parsed JSON, headers}, or throw ApiError with the server's own message. */
export async function apiResponse(path, { token, body } = {}) {
  const headers = { Accept: "application/json" };
  if (token) {
    headers.Authorization = `Bearer ${token}`;
  }
  const init = { headers, cache: "no-store", credentials: "omit" };
  if (body !== undefined) {
    init.method = "POST";
    headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  const response = await fetch(path, init);
  let data = {};
  try {
    data = await response.json();
  } catch {
    // A proxy's HTML page, say: keep the status alone.
  }
  if (!response.ok) {
    throw new ApiError(response.status, data.error || {});
  }
  return { data, headers: response.headers };
}

/** Append a table row whose cells hold ``values`` as text, each with its class name if given. */
export function addRow(tbody, cells) {
  const row = document.createElement("tr");
  for (const [value, className] of cells) {
    const cell = document.createElement("td");
    cell.textContent = value;
    if (className) {
      cell.className = className;
    }
    row.append(cell);
  }
  tbody.append(row);
  return row;
}

/** A label cell's class: colours Positive and Negative. */
export function labelClass(label) {
  return label === "Positive" ? "label pos" : label === "Negative" ? "label neg" : "label";
}

/** P(Positive) with three decimals. */
export function formatScore(score) {
  return typeof score === "number" ? score.toFixed(3) : "";
}
