"use strict";

// Shared by the box's review page and the hub's: the page names its login route and home on <body>.
document.addEventListener("DOMContentLoaded", () => {
  const loginApi = document.body.dataset.loginApi || "/api/review/login";
  const home = document.body.dataset.home || "/review";
  const form = document.getElementById("login");
  const error = document.getElementById("error");
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    error.textContent = "";
    const body = { name: document.getElementById("name").value.trim(), password: document.getElementById("password").value };
    let r;
    try {
      r = await fetch(loginApi, {
        method: "POST", credentials: "same-origin",
        headers: { "Content-Type": "application/json" }, body: JSON.stringify(body),
      });
    } catch (e) {
      error.textContent = `${t("error")}: ${e}`;
      return;
    }
    if (r.ok) {
      window.location.assign(home);
    } else if (r.status === 429) {
      error.textContent = t("too_many", { s: r.headers.get("Retry-After") || "60" });
    } else {
      error.textContent = t("bad_login");
      document.getElementById("password").select();
    }
  });
});
