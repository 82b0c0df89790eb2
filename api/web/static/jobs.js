// The upload form: a file, picked or dropped, sent as the raw body of POST /api/v1/jobs with the
// Content-Type its extension names; the job the API answers with is followed in the panel (job_panel.js)
// and listed with the caller's recent jobs (job_list.js).
import { fieldError, saveToken } from "./common.js";
import { loadJobs } from "./job_list.js";
import { follow } from "./job_panel.js";
import { byId, call, count, jobsChanged, nameJob, setStatus, showError } from "./jobs_common.js";

// The Content-Type the API reads each file extension as: CSV, or NDJSON under either name.
const TYPES = { csv: "text/csv", ndjson: "application/x-ndjson", jsonl: "application/x-ndjson" };
const DROP_TEXT = "Drop a file here, or choose one";
const WRONG_TYPE = "Choose a .csv, .ndjson or .jsonl file.";
// The query parameters of the column fields, with the API's defaults (left out of the query).
const COLUMNS = [
  ["text_column", "job-text-column", "text"],
  ["id_column", "job-id-column", "id"],
];

const fileInput = byId("job-file");
const dropZone = byId("drop-zone");
const jobModel = byId("job-model");

/** The Content-Type of a file ``name`` by its extension, or "" when the API takes no such file. */
function typeOf(name) {
  const dot = name.lastIndexOf(".");
  const extension = dot < 0 ? "" : name.slice(dot + 1).toLowerCase();
  return Object.hasOwn(TYPES, extension) ? TYPES[extension] : "";
}

/** A byte count as bytes, kB, MB or GB. */
function size(bytes) {
  const units = ["bytes", "kB", "MB", "GB"];
  let value = bytes;
  let unit = 0;
  while (value >= 1000 && unit < units.length - 1) {
    value /= 1000;
    unit += 1;
  }
  return `${unit ? value.toFixed(1) : value} ${units[unit]}`;
}

/** Show the chosen file in the drop zone, or why the API would refuse it. */
function fileChosen() {
  const file = fileInput.files[0];
  byId("drop-text").textContent = file ? `${file.name} (${size(file.size)}): choose another` : DROP_TEXT;
  fieldError("drop-zone", file && !typeOf(file.name) ? WRONG_TYPE : "");
}

/** Take a file dropped on the zone as if it had been picked. */
function dropped(event) {
  event.preventDefault();
  dropZone.classList.remove("over");
  if (event.dataTransfer?.files.length) {
    fileInput.files = event.dataTransfer.files;
    fileChosen();
  }
}

/** Copy the page's model list (index.js fills #model from the API) into the upload form's chooser. */
function mirrorModels() {
  const chosen = jobModel.value;
  const options = [...byId("model").options].map((option) => new Option(option.text, option.value));
  jobModel.replaceChildren(...options);
  jobModel.value = options.some((option) => option.value === chosen) ? chosen : "";
}

/** The upload's query: the options that differ from the API's defaults. */
function uploadQuery() {
  const query = new URLSearchParams();
  if (jobModel.value) {
    query.set("model", jobModel.value);
  }
  if (!byId("job-detail").checked) {
    query.set("detail", "false");
  }
  for (const [name, id, fallback] of COLUMNS) {
    const value = byId(id).value.trim();
    if (value && value !== fallback) {
      query.set(name, value);
    }
  }
  return query;
}

/** The problems of the form before anything is sent, by field id ("" for none). */
function problems(file, token) {
  let fileProblem = "Choose a file, or drop one here.";
  if (file) {
    fileProblem = typeOf(file.name) ? "" : WRONG_TYPE;
  }
  return { "drop-zone": fileProblem, token: token ? "" : "Enter your bearer token." };
}

/** Check the form; upload the file as the request body; follow the job the API answers with. */
async function submit(event) {
  event.preventDefault();
  for (const id of ["drop-zone", "token", "job-model"]) {
    fieldError(id, "");
  }
  setStatus("");
  const file = fileInput.files[0];
  const token = byId("token").value.trim();
  const found = problems(file, token);
  for (const [id, message] of Object.entries(found)) {
    fieldError(id, message);
  }
  const first = Object.keys(found).find((id) => found[id]);
  if (first) {
    byId(first).focus();
    return;
  }
  saveToken(token);
  const button = byId("job-submit");
  button.disabled = true;
  setStatus(`Uploading ${file.name} (${size(file.size)})...`);
  try {
    const query = uploadQuery().toString();
    const response = await call(query ? `/api/v1/jobs?${query}` : "/api/v1/jobs", {
      method: "POST",
      body: file,
      type: typeOf(file.name),
    });
    const job = await response.json();
    nameJob(job, file.name);
    setStatus(`${file.name} uploaded: ${count(job.rows.total)} rows to score.`, "ok");
    follow(job);
    jobsChanged();
  } catch (error) {
    setStatus("");
    showError(error);
  } finally {
    button.disabled = false;
  }
}

byId("job-form").addEventListener("submit", submit);
fileInput.addEventListener("change", fileChosen);
dropZone.addEventListener("click", () => fileInput.click());
dropZone.addEventListener("dragover", (event) => {
  event.preventDefault();
  if (event.dataTransfer) {
    event.dataTransfer.dropEffect = "copy";
  }
  dropZone.classList.add("over");
});
dropZone.addEventListener("dragleave", () => dropZone.classList.remove("over"));
dropZone.addEventListener("drop", dropped);
// A file dropped beside the zone would make the browser leave the page, and the job it follows, to show it.
for (const type of ["dragover", "drop"]) {
  document.addEventListener(type, (event) => {
    if (event.dataTransfer?.types.includes("Files")) {
      event.preventDefault();
    }
  });
}
new MutationObserver(mirrorModels).observe(byId("model"), { childList: true });
mirrorModels();
loadJobs();
