// cs-signals board: live updates (server-sent events) and small conveniences. No build step.
// On an event the page fetches the server-rendered sections it shows again (/fragment/...).
(function () {
  "use strict";
  const body = document.body;

  document.querySelectorAll("select[data-autosubmit]").forEach(function (select) {
    select.addEventListener("change", function () { select.form.submit(); });
  });

  const since = body.dataset.liveSince;
  if (!since) { return; }
  const page = body.dataset.page;
  const key = body.dataset.key || "";
  const status = document.getElementById("live-status");
  let timer = null;

  function toast(text, priority) {
    const box = document.getElementById("toasts");
    const item = document.createElement("div");
    item.className = "toast" + (priority ? " prio-" + priority : "");
    item.textContent = text;
    box.appendChild(item);
    setTimeout(function () { item.remove(); }, 6000);
    while (box.children.length > 4) { box.firstChild.remove(); }
  }

  async function refreshSection(section) {
    const active = document.activeElement;
    if (active && active !== body && section.contains(active)) {
      return false;  // someone is typing in a form here: try again later
    }
    const known = new Set(Array.from(section.querySelectorAll("[data-task-id]"))
      .map(function (row) { return row.dataset.taskId; }));
    const open = new Set(Array.from(section.querySelectorAll("details[open]"))
      .map(function (d) { return (d.closest("[data-task-id]") || {}).dataset?.taskId + d.className; }));
    const url = "/fragment/" + page + "/" + section.dataset.section + "?key=" + encodeURIComponent(key);
    const response = await fetch(url, { credentials: "same-origin", cache: "no-store" });
    if (!response.ok) { return true; }
    section.innerHTML = await response.text();
    section.querySelectorAll("[data-task-id]").forEach(function (row) {
      if (!known.has(row.dataset.taskId)) { row.classList.add("fresh"); }
    });
    section.querySelectorAll("details").forEach(function (d) {
      const id = (d.closest("[data-task-id]") || {}).dataset?.taskId + d.className;
      if (open.has(id)) { d.open = true; }
    });
    return true;
  }

  function refresh() {
    if (timer) { return; }
    timer = setTimeout(async function () {
      timer = null;
      let again = false;
      for (const section of document.querySelectorAll("section[data-section]")) {
        try {
          if (!(await refreshSection(section))) { again = true; }
        } catch (err) { again = true; }
      }
      if (again) { setTimeout(refresh, 2000); }
    }, 250);
  }

  const source = new EventSource("/live?since=" + encodeURIComponent(since));
  source.addEventListener("open", function () { status && status.classList.add("on"); });
  source.addEventListener("error", function () { status && status.classList.remove("on"); });
  source.addEventListener("task", function (event) {
    const d = JSON.parse(event.data);
    if (page === "account" && d.account_id !== key) { return; }
    const what = d.action === "opened" ? "New task" : "Task " + d.action;
    toast(what + ": " + (d.title || d.playbook) + " · " + d.account_id, d.priority);
    refresh();
  });
  source.addEventListener("score", function (event) {
    const d = JSON.parse(event.data);
    if (page === "account" && d.account_id !== key) { return; }
    const before = d.previous_score ? Math.round(Number(d.previous_score)) + " → " : "";
    toast(d.account_id + ": health " + before + Math.round(Number(d.score)) + " (" + d.band + ")");
    refresh();
  });
})();
