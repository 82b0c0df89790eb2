// The job panel: one job followed by polling GET /api/v1/jobs/<id> until it is final, drawn as a progress
// bar with rows/s and time left, its errors, a cancel button (DELETE) and the result's download link.
import {
  ACTIVE,
  STATES,
  byId,
  call,
  count,
  download,
  jobName,
  jobsChanged,
  percent,
  setDownload,
  setStatus,
  showError,
} from "./jobs_common.js";

// How often a followed job is asked for its progress.
const POLL_MS = 500;
// Failed polls in a row after which the page stops asking and says why (the server gone away, say).
const MAX_POLL_FAILURES = 5;

// The job the panel shows; a new generation stops the polls of the one before.
const followed = { id: "", generation: 0, failures: 0, announced: "" };

/** Whether the panel follows a job. */
export function following() {
  return followed.id !== "";
}

/** Show ``job`` in the panel and poll it until it reaches a final state. */
export function follow(job) {
  followed.id = job.id;
  followed.generation += 1;
  followed.failures = 0;
  followed.announced = "";
  const panel = byId("job-panel");
  panel.dataset.id = job.id; // which job the panel shows, as the list's rows say theirs
  panel.hidden = false;
  show(job);
  next(job, followed.generation);
}

/** Poll again soon while ``job`` is active; once it is final, have the list show it so. */
function next(job, generation) {
  if (ACTIVE.has(job.state)) {
    setTimeout(() => poll(job.id, generation), POLL_MS);
  } else {
    jobsChanged();
  }
}

/** Ask for the followed job's state; back off on a failure, give up after a few in a row or a 404. */
async function poll(id, generation) {
  if (generation !== followed.generation) {
    return; // another job is followed now
  }
  try {
    const job = await (await call(`/api/v1/jobs/${encodeURIComponent(id)}`)).json();
    if (generation === followed.generation) {
      followed.failures = 0;
      show(job);
      next(job, generation);
    }
  } catch (error) {
    if (generation !== followed.generation) {
      return;
    }
    followed.failures += 1;
    if (error.status === 404 || error.status === 401 || followed.failures >= MAX_POLL_FAILURES) {
      showError(error);
      return;
    }
    setTimeout(() => poll(id, generation), POLL_MS * 2 ** followed.failures);
  }
}

/** Seconds as "42 s", "3 min 5 s" or "2 h 10 min". */
function duration(seconds) {
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) {
    return `${s} s`;
  }
  const [hours, minutes] = [Math.floor(s / 3600), Math.floor((s % 3600) / 60)];
  return hours ? `${hours} h ${minutes} min` : `${minutes} min ${s % 60} s`;
}

/** The rows line: done of total, rows/s, and the time left while the job is active. */
function numbers(job) {
  const parts = [`${count(job.rows.done)} of ${count(job.rows.total)} rows (${percent(job)}%)`];
  if (job.rows_per_second) {
    parts.push(`${count(Math.round(job.rows_per_second))} rows/s`);
  }
  if (ACTIVE.has(job.state) && typeof job.seconds_left === "number") {
    parts.push(`about ${duration(job.seconds_left)} left`);
  }
  return parts.join(" · ");
}

/** Draw ``job`` in the panel: progress, rows/s, time left, errors, the cancel button and the download. */
function show(job) {
  const progress = byId("job-progress");
  progress.max = Math.max(job.rows.total, 1);
  progress.value = job.rows.done;
  const state = STATES[job.state] ?? job.state;
  byId("job-progress-label").textContent = `${jobName(job)}: ${state}`;
  byId("job-numbers").textContent = numbers(job);
  // Screen readers hear each state and each tenth of the rows, not every poll.
  const announced = `${state}, ${Math.floor(percent(job) / 10) * 10}% of the rows scored.`;
  if (announced !== followed.announced) {
    followed.announced = announced;
    byId("job-announce").textContent = `${jobName(job)}: ${announced}`;
  }
  const errors = byId("job-errors");
  const items = (job.errors ?? []).map((text) => Object.assign(document.createElement("li"), { textContent: text }));
  errors.replaceChildren(...items);
  errors.hidden = items.length === 0;
  byId("job-cancel").hidden = !ACTIVE.has(job.state);
  const link = byId("job-download");
  link.hidden = job.state !== "succeeded" || !job.result;
  if (!link.hidden) {
    setDownload(link, job);
    link.textContent = `Download ${link.download}`;
  }
}

/** Cancel the followed job, unless it has just finished (DELETE would then delete it and its result). */
async function cancel() {
  const id = encodeURIComponent(followed.id);
  try {
    const job = await (await call(`/api/v1/jobs/${id}`)).json();
    const answer = ACTIVE.has(job.state) ? await (await call(`/api/v1/jobs/${id}`, { method: "DELETE" })).json() : job;
    if (answer.id === followed.id) {
      followed.generation += 1; // no poll still under way redraws it
      show(answer);
      setStatus(answer.state === "cancelled" ? "Job cancelled." : `The job had already ${answer.state}.`, "ok");
    }
    jobsChanged();
  } catch (error) {
    showError(error);
  }
}

byId("job-cancel").addEventListener("click", cancel);
byId("job-download").addEventListener("click", download);
