// The copy button of a token shown once; without script the token is still there to select.
"use strict";
document.addEventListener("DOMContentLoaded", () => {
  for (const button of document.querySelectorAll("button.copy")) {
    const target = document.getElementById(button.dataset.copy);
    const status = document.getElementById("copy-status");
    if (!target || !navigator.clipboard) continue;
    button.hidden = false;
    button.addEventListener("click", async () => {
      try {
        await navigator.clipboard.writeText(target.textContent.trim());
        status.textContent = "Copied.";
      } catch {
        status.textContent = "Copy failed; select the token and copy it by hand.";
      }
    });
  }
});
