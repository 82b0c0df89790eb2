// What the upload form, the job panel and the jobs list share: API calls with the form's token, errors put
// where they belong, the names and numbers shown, and the result's download through a Blob URL.
import { ApiError, fieldError } from "./common.js";

export const ACTIVE = new Set(["queued", "running"]);
export const STATES = {
  queued: "Queued",
  running: "Running",
  succeeded: "Succeeded",
  failed: "Failed",
  cancelled: "Cancelled",
};
// Sent when a job is created, cancelled or finished: the list then loads again.
export const JOBS_CHANGED = "jobs-changed";
// A Blob URL is kept this long after its download starts: revoked at once, the download might not start.
const BLOB_URL_MS = 60_000;

// The names of the files uploaded from this tab, by job id: the page and the downloads are named after them.
const fileNames = new Map();

/** The element with ``id``. */
export const byId = (id) => document.getElementById(id);

/** Call the API with the form's token; return the Response, or throw ApiError with the API's message. */
export async function call(path, { method = "GET", body, type } = {}) {
  const headers = { Authorization: `Bearer ${byId("token").value.trim()}` };
  if (type) {
    headers["Content-Type"] = type;
  }
  const response = await fetch(path, { method, body, headers, cache: "no-store", credentials: "omit" });
  if (!response.ok) {
    let data = {};
    try {
      data = await response.json();
    } catch {
      // Not JSON (a proxy's HTML page, say): the status alone, never the page.
    }
    throw new ApiError(response.status, typeof data.error === "object" && data.error ? data.error : {});
  }
  return response;
}

/** Tell the jobs list that the caller's jobs changed. */
export function jobsChanged() {
  document.dispatchEvent(new CustomEvent(JOBS_CHANGED));
}

/** Set the upload form's status line. */
export function setStatus(message, kind = "") {
  const line = byId("job-status");
  line.textContent = message;
  line.className = `status ${kind}`;
}

/** Put an error next to what it is about: the token, the model, the file, else the status line. */
export function showError(error) {
  if (!(error instanceof ApiError)) {
    // fetch's TypeError: no answer at all (the server down, or the connection cut mid-upload).
    setStatus("The server could not be reached; try again.", "error");
  } else if (error.status === 401) {
    fieldError("token", "This token was refused: check it, or ask for a new one.");
  } else if (error.key === "model") {
    fieldError("job-model", error.message);
  } else if (error.status === 413 || error.status === 415 || error.code === "bad_upload") {
    fieldError("drop-zone", error.message);
  } else {
    setStatus(error.message, "error");
  }
}

/** A count in the reader's own digit grouping. */
export function count(number) {
  return Number(number).toLocaleString();
}

/** Whole percent of the rows done, 100 only when all are. */
export function percent(job) {
  return job.rows.total ? Math.floor((100 * job.rows.done) / job.rows.total) : 0;
}

/** Remember that ``job`` was uploaded from the file ``name`` (its extension dropped). */
export function nameJob(job, name) {
  const dot = name.lastIndexOf(".");
  fileNames.set(job.id, dot > 0 ? name.slice(0, dot) : name);
}

/** The job's name on the page: its file's, when uploaded from this tab, else its id's start. */
export function jobName(job) {
  return fileNames.get(job.id) ?? `job ${job.id.slice(0, 8)}`;
}

/** Point ``link`` at ``job``'s result, to be saved as "<file name>.scored.<format>". */
export function setDownload(link, job) {
  const base = fileNames.get(job.id) ?? `job-${job.id.slice(0, 8)}`;
  link.href = job.result;
  link.download = `${base}.scored.${job.format === "ndjson" ? "ndjson" : "csv"}`;
}

/** A click on a result link: fetch it with the token (a plain link cannot send it), save it as a Blob URL. */
export async function download(event) {
  event.preventDefault();
  const link = event.currentTarget;
  if (link.getAttribute("aria-busy") === "true") {
    return;
  }
  link.setAttribute("aria-busy", "true");
  setStatus(`Downloading ${link.download}...`);
  try {
    const blob = await (await call(link.getAttribute("href"))).blob();
    const url = URL.createObjectURL(blob);
    const save = Object.assign(document.createElement("a"), { href: url, download: link.download, hidden: true });
    document.body.append(save);
    save.click();
    save.remove();
    setTimeout(() => URL.revokeObjectURL(url), BLOB_URL_MS);
    setStatus(`${link.download} downloaded.`, "ok");
  } catch (error) {
    setStatus("");
    showError(error);
  } finally {
    link.removeAttribute("aria-busy");
  }
}
