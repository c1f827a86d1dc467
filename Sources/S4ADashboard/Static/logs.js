// Live logs: follows the API's event stream (same origin, the session cookie) into <pre id="logs">.
"use strict";
document.addEventListener("DOMContentLoaded", () => {
  const pre = document.getElementById("logs");
  const status = document.getElementById("logs-status");
  if (!pre || !pre.dataset.source || !window.EventSource) return;
  const source = new EventSource(pre.dataset.source);
  let first = true;
  source.addEventListener("line", (event) => {
    if (first) { pre.textContent = ""; first = false; }
    const line = JSON.parse(event.data);
    const when = (line.time || "").replace("T", " ").replace(/\.\d+Z$/, "Z");
    pre.textContent += `${when} [${line.run_id}] ${line.text}\n`;
    pre.scrollTop = pre.scrollHeight;
  });
  // Each (re)connection starts with the backlog again: it replaces what is shown.
  source.addEventListener("open", () => { first = true; status.textContent = "Live."; });
  source.addEventListener("error", () => { status.textContent = "Not live (the server is not running); reload to retry."; });
});
