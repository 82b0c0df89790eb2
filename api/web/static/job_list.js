// The caller's recent jobs (GET /api/v1/jobs, newest first): state, rows, model, and per job a button that
// shows it in the panel and, once it succeeded, a link to its result.
import { addRow } from "./common.js";
import { follow, following } from "./job_panel.js";
import { ACTIVE, JOBS_CHANGED, STATES, byId, call, count, download, jobName, setDownload } from "./jobs_common.js";

/** A small button of the jobs table, with an accessible name that says which job it acts on. */
function tableButton(text, label, action) {
  const button = Object.assign(document.createElement("button"), {
    type: "button",
    textContent: text,
    className: "secondary small",
  });
  button.setAttribute("aria-label", label);
  button.addEventListener("click", action);
  return button;
}

/** The actions cell of ``job``'s row: show it in the panel; download its result once it succeeded. */
function actions(job) {
  const cell = Object.assign(document.createElement("td"), { className: "job-actions" });
  cell.append(tableButton("Show", `Show ${jobName(job)}`, () => follow(job)));
  if (job.state === "succeeded" && job.result) {
    const link = document.createElement("a");
    setDownload(link, job);
    link.textContent = "Download";
    link.setAttribute("aria-label", `Download ${link.download}`);
    link.addEventListener("click", download);
    cell.append(link);
  }
  return cell;
}

/** Fill the table with ``jobs`` in the order given. */
function showJobs(jobs) {
  const body = byId("jobs-body");
  body.replaceChildren();
  for (const job of jobs) {
    const row = addRow(body, [
      [jobName(job), "job-name"],
      [STATES[job.state] ?? job.state, `job-state ${job.state}`],
      [`${count(job.rows.done)} / ${count(job.rows.total)}`, "num"],
      [job.model, "model"],
      [new Date(job.created).toLocaleString(), "when"],
    ]);
    row.dataset.id = job.id;
    row.append(actions(job));
  }
  byId("jobs-status").textContent = jobs.length ? "" : "No jobs yet.";
  byId("jobs").hidden = false;
}

/** Load the caller's recent jobs; with no job in the panel yet, follow the newest active one. */
export async function loadJobs() {
  if (!byId("token").value.trim()) {
    return;
  }
  try {
    const { jobs } = await (await call("/api/v1/jobs")).json();
    showJobs(jobs);
    const active = jobs.find((job) => ACTIVE.has(job.state));
    if (!following() && active) {
      follow(active);
    }
  } catch (error) {
    // A refused token is index.js's to show (it reads the models with it); the rest is said here.
    if (error.status !== 401) {
      byId("jobs-status").textContent = error.message;
      byId("jobs").hidden = false;
    }
  }
}

document.addEventListener(JOBS_CHANGED, loadJobs);
byId("jobs-refresh").addEventListener("click", loadJobs);
byId("token").addEventListener("change", loadJobs);
