"use strict";

document.addEventListener("DOMContentLoaded", () => {
  const form = document.getElementById("login");
  const error = document.getElementById("error");
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    error.textContent = "";
    const body = { name: document.getElementById("name").value.trim(), password: document.getElementById("password").value };
    let r;
    try {
      r = await fetch("/api/hub/login", {
        method: "POST", credentials: "same-origin",
        headers: { "Content-Type": "application/json" }, body: JSON.stringify(body),
      });
    } catch (e) {
      error.textContent = `${t("error")}: ${e}`;
      return;
    }
    if (r.ok) {
      window.location.assign("/hub");
    } else if (r.status === 429) {
      error.textContent = t("too_many", { s: r.headers.get("Retry-After") || "60" });
    } else {
      error.textContent = t("bad_login");
      document.getElementById("password").select();
    }
  });
});
