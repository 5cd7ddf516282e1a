// The "Copy" buttons of the page that shows new access keys once. A file, not an inline <script>,
// so that the admin's Content-Security-Policy needs no 'unsafe-inline'.
"use strict";
document.addEventListener("DOMContentLoaded", () => {
  document.querySelectorAll("[data-copy-key]").forEach((button) => {
    button.addEventListener("click", async () => {
      const input = document.getElementById(button.dataset.copyKey);
      input.select();
      try {
        await navigator.clipboard.writeText(input.value);
        button.textContent = "Copied";
      } catch {
        // No clipboard access (plain http, or refused): the key is selected for Ctrl+C instead.
        button.textContent = "Press Ctrl+C to copy";
      }
    });
  });
});
