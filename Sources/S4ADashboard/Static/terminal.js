// The server's terminal in the page: xterm.js (Static/xterm.js, MIT) over the API's shell
// WebSocket (same origin, the session cookie). Binary frames carry keystrokes and output;
// a text frame {"type":"resize"} follows the terminal's size whenever it is fitted to the page.
"use strict";
document.addEventListener("DOMContentLoaded", () => {
  const host = document.getElementById("terminal");
  const status = document.getElementById("terminal-status");
  if (!host || !window.WebSocket || !window.Terminal) return;
  // The canvas renderer: the DOM one injects <style> elements, which the CSP refuses.
  const term = new Terminal({ cursorBlink: true, scrollback: 5000, fontSize: 14, rendererType: "canvas",
                              fontFamily: 'ui-monospace, "SFMono-Regular", Menlo, "DejaVu Sans Mono", monospace' });
  term.open(host);
  term.fit();
  // What the terminal shows, as text (for the person's devtools and the browser tests).
  window.s4aTerminal = {
    term,
    screen() {
      const buffer = term._core.buffer, lines = [];
      for (let row = 0; row < term.rows; row++) lines.push(buffer.translateBufferLineToString(buffer.ydisp + row, true));
      return lines.join("\n");
    },
    // The foreground colour (0–255; 257 is the default) of the cell `offset` into the first `text` shown.
    colourOf(text, offset = 0) {
      const buffer = term._core.buffer;
      for (let row = 0; row < buffer.lines.length; row++) {
        const column = buffer.translateBufferLineToString(row, false).indexOf(text);
        if (column >= 0) return (buffer.lines.get(row).get(column + offset)[0] >> 9) & 0x1ff;
      }
      return null;
    },
  };

  const url = new URL(host.dataset.source, location.href);
  url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
  url.searchParams.set("cols", String(term.cols));
  url.searchParams.set("rows", String(term.rows));
  const socket = new WebSocket(url);
  socket.binaryType = "arraybuffer";
  const decoder = new TextDecoder();
  const encoder = new TextEncoder();

  socket.addEventListener("open", () => { status.textContent = "Connected."; term.focus(); });
  socket.addEventListener("message", (event) => {
    if (typeof event.data === "string") {
      const control = JSON.parse(event.data);
      if (control.type === "exit") status.textContent = `The shell exited (${control.exit_code}).`;
    } else {
      term.write(decoder.decode(event.data, { stream: true }));
    }
  });
  socket.addEventListener("close", () => { status.textContent += " Disconnected; reload for a new shell."; });

  term.on("data", (data) => {
    if (socket.readyState === WebSocket.OPEN) socket.send(encoder.encode(data));
  });
  term.on("resize", ({ cols, rows }) => {
    if (socket.readyState === WebSocket.OPEN) socket.send(JSON.stringify({ type: "resize", cols, rows }));
  });
  let pending = null;
  window.addEventListener("resize", () => {
    clearTimeout(pending);
    pending = setTimeout(() => term.fit(), 100);
  });
});
