// The server's terminal in the page: the API's shell WebSocket (same origin, the session
// cookie). A small line-oriented screen: escape sequences are dropped, not emulated, which
// suits a shell; full-screen programs need `s4a shell` in a real terminal.
"use strict";
document.addEventListener("DOMContentLoaded", () => {
  const screen = document.getElementById("terminal");
  const status = document.getElementById("terminal-status");
  if (!screen || !window.WebSocket) return;
  const url = new URL(screen.dataset.source, location.href);
  url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
  url.searchParams.set("cols", "100");
  url.searchParams.set("rows", "30");
  const socket = new WebSocket(url);
  socket.binaryType = "arraybuffer";
  const decoder = new TextDecoder();
  const encoder = new TextEncoder();
  let lines = [""];
  let column = 0;

  function write(text) {
    text = text
      .replace(/\x1b\][^\x07\x1b]*(\x07|\x1b\\)/g, "")      // OSC (window titles)
      .replace(/\x1b\[[0-9;?]*[ -\/]*[@-~]/g, "")             // CSI (colours, cursor)
      .replace(/\x1b[()][A-Z0-9]|\x1b[=>]/g, "");
    for (const ch of text) {
      if (ch === "\n") { lines.push(""); column = 0; }
      else if (ch === "\r") { column = 0; }
      else if (ch === "\b") { column = Math.max(0, column - 1); }
      else if (ch >= " " || ch === "\t") {
        const line = lines[lines.length - 1];
        lines[lines.length - 1] = line.slice(0, column).padEnd(column) + ch + line.slice(column + 1);
        column += 1;
      }
    }
    if (lines.length > 2000) lines = lines.slice(-2000);
    screen.textContent = lines.join("\n");
    screen.scrollTop = screen.scrollHeight;
  }

  function send(data) {
    if (socket.readyState === WebSocket.OPEN) socket.send(encoder.encode(data));
  }

  socket.addEventListener("open", () => { status.textContent = "Connected."; screen.focus(); });
  socket.addEventListener("message", (event) => {
    if (typeof event.data === "string") {
      const control = JSON.parse(event.data);
      if (control.type === "exit") status.textContent = `The shell exited (${control.exit_code}).`;
    } else {
      write(decoder.decode(event.data, { stream: true }));
    }
  });
  socket.addEventListener("close", () => { status.textContent += " Disconnected; reload for a new shell."; });

  const keys = { Enter: "\r", Backspace: "\x7f", Tab: "\t", Escape: "\x1b", ArrowUp: "\x1b[A", ArrowDown: "\x1b[B",
                 ArrowRight: "\x1b[C", ArrowLeft: "\x1b[D", Home: "\x1b[H", End: "\x1b[F", Delete: "\x1b[3~" };
  screen.addEventListener("keydown", (event) => {
    let data = null;
    if (event.ctrlKey && event.key.length === 1) {
      const code = event.key.toUpperCase().charCodeAt(0);
      if (code >= 64 && code <= 95) data = String.fromCharCode(code - 64);  // Ctrl-C is \x03
    } else if (keys[event.key]) {
      data = keys[event.key];
    } else if (event.key.length === 1 && !event.metaKey) {
      data = event.key;
    }
    if (data !== null) { send(data); event.preventDefault(); }
  });
  screen.addEventListener("paste", (event) => {
    send(event.clipboardData.getData("text"));
    event.preventDefault();
  });
});
