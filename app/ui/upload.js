// Upload: files to the chosen collection, a progress bar through the upload and its job.

import { authHeaders, collectionPath, errorOf, api } from "./api.js";
import { $, guarded, h } from "./dom.js";
import { emit, state } from "./state.js";

const input = $("upload-files");
const bar = $("upload-progress");
const status = $("upload-status");
const error = $("upload-error");
const report = $("upload-report");
const button = $("upload-button");
const POLL_MS = 300;

function progress(percent, text) {
  bar.hidden = false;
  bar.value = Math.round(percent);
  status.textContent = text;
}

/** POST the form with upload progress; resolves to {status, body}. */
function send(url, form) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open("POST", url);
    for (const [name, value] of Object.entries(authHeaders())) xhr.setRequestHeader(name, value);
    xhr.upload.addEventListener("progress", (event) => {
      if (event.lengthComputable) {
        const share = event.loaded / event.total;
        progress(share * 50, `Uploading… ${Math.round(share * 100)}%`);
      }
    });
    xhr.addEventListener("load", () => {
      if (xhr.status >= 200 && xhr.status < 300) {
        resolve({ status: xhr.status, body: JSON.parse(xhr.responseText) });
      } else {
        reject(errorOf(xhr.status, xhr.statusText, xhr.responseText));
      }
    });
    xhr.addEventListener("error", () => reject(new Error("Upload: the connection failed")));
    xhr.send(form);
  });
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

async function followJob(url) {
  for (;;) {
    const job = await api("GET", url);
    const share = job.files_total ? job.files_done / job.files_total : 0;
    progress(50 + share * 50, `Processing: ${job.files_done} of ${job.files_total} files, `
      + `${job.documents} documents so far`);
    if (job.status === "done" || job.status === "failed") return job;
    await sleep(POLL_MS);
  }
}

function showReports(files) {
  report.replaceChildren(
    ...files.map((f) =>
      f.error
        ? h("li", { class: "failed" }, h("strong", { text: f.name }), `: ${f.error}`)
        : h(
          "li",
          {},
          h("strong", { text: f.name }),
          `: ${f.documents} document${f.documents === 1 ? "" : "s"}`,
          f.warnings && f.warnings.length ? ` (${f.warnings.length} skipped: ${f.warnings[0]})` : "",
        ),
    ),
  );
}

async function upload(event) {
  event.preventDefault();
  if (!state.collection) throw new Error("Upload: choose or create a collection first");
  if (!input.files.length) throw new Error("Upload: choose one or more files");
  const form = new FormData();
  for (const file of input.files) form.append("files", file, file.name);
  const column = $("upload-column").value.trim();
  if (column) form.append("text_column", column);
  report.replaceChildren();
  button.disabled = true;
  bar.dataset.state = "running";
  try {
    progress(0, "Uploading…");
    const reply = await send(collectionPath(state.collection, "files"), form);
    let files = reply.body.files;
    let documents = reply.body.documents;
    if (reply.status === 202) {
      const job = await followJob(reply.body.status_url);
      files = job.files;
      documents = job.documents;
      if (job.status === "failed") throw new Error(`Upload failed: ${job.error}`);
    }
    showReports(files);
    const failed = files.filter((f) => f.error).length;
    progress(100, `Done: ${files.length} file${files.length === 1 ? "" : "s"}, `
      + `${documents} documents stored${failed ? `, ${failed} not read` : ""}.`);
    bar.dataset.state = "done";
    emit("changed");
  } catch (e) {
    bar.dataset.state = "failed";
    status.textContent = "";
    throw e;
  } finally {
    button.disabled = false;
  }
}

export function setupUpload() {
  $("upload-form").addEventListener("submit", guarded(error, upload));
}
