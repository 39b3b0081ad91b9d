// supervisor-rs dashboard. No dependencies: reads /api/status, acts through XML-RPC on /RPC2,
// tails logs through the streaming /logtail endpoint. The browser sends the same Basic auth
// credentials it used for the page.
"use strict";

(function () {
  const REFRESH_MS = 1000;
  const TAIL_MAX = 64 * 1024;
  const $ = (id) => document.getElementById(id);
  const rows = new Map(); // namespec -> {tr, cells, proc}
  const groupRows = new Map(); // group name -> tr
  let lastProcesses = [];
  let tailAbort = null;
  // Absolute URLs without user:password@ (fetch refuses URLs with credentials; the browser
  // still sends the Basic credentials it used for the page).
  const BASE = location.origin + location.pathname.replace(/[^/]*$/, "");

  function namespec(p) {
    return p.group === p.name ? p.name : p.group + ":" + p.name;
  }

  function xmlEscape(s) {
    return String(s).replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
  }

  function xmlParam(v) {
    if (typeof v === "boolean") return "<param><value><boolean>" + (v ? 1 : 0) + "</boolean></value></param>";
    return "<param><value><string>" + xmlEscape(v) + "</string></value></param>";
  }

  // One XML-RPC call; resolves to true, rejects with {code, message} on a fault.
  async function rpc(method, params) {
    const body = '<?xml version="1.0"?><methodCall><methodName>' + method +
      "</methodName><params>" + params.map(xmlParam).join("") + "</params></methodCall>";
    const res = await fetch(BASE + "RPC2", { method: "POST", headers: { "Content-Type": "text/xml" }, body });
    if (!res.ok) throw { code: res.status, message: "HTTP " + res.status };
    const doc = new DOMParser().parseFromString(await res.text(), "text/xml");
    if (doc.querySelector("fault")) {
      let code = 0, message = "fault";
      for (const m of doc.querySelectorAll("fault member")) {
        const name = m.querySelector("name").textContent;
        const val = m.querySelector("value").textContent;
        if (name === "faultCode") code = Number(val);
        if (name === "faultString") message = val;
      }
      throw { code, message };
    }
    return true;
  }

  function say(text, error) {
    const m = $("message");
    m.textContent = text;
    m.className = error ? "error" : "";
  }

  // Faults that mean "already there" are not errors for stop/start.
  const ALREADY = { stop: 70 /* NOT_RUNNING */, start: 60 /* ALREADY_STARTED */ };

  async function act(action, target, isGroup) {
    const label = (isGroup ? "group " : "") + target;
    const confirmText = {
      stop: "Stop " + label + "?",
      restart: "Restart " + label + "?",
      clear: "Clear the logs of " + label + "?",
    }[action];
    if (confirmText && !window.confirm(confirmText)) return;
    say(action + " " + label + "...");
    try {
      const tolerate = (kind) => (e) => { if (e.code !== ALREADY[kind]) throw e; };
      if (isGroup) {
        if (action === "stop" || action === "restart") await rpc("supervisor.stopProcessGroup", [target, true]);
        if (action === "start" || action === "restart") await rpc("supervisor.startProcessGroup", [target, false]);
        if (action === "clear") {
          for (const p of lastProcesses.filter((p) => p.group === target)) {
            await rpc("supervisor.clearProcessLogs", [namespec(p)]);
          }
        }
      } else {
        if (action === "stop" || action === "restart") await rpc("supervisor.stopProcess", [target, true]).catch(tolerate("stop"));
        if (action === "start" || action === "restart") await rpc("supervisor.startProcess", [target, false]).catch(tolerate("start"));
        if (action === "clear") await rpc("supervisor.clearProcessLogs", [target]);
      }
      say(action + " " + label + ": done");
    } catch (e) {
      say(action + " " + label + ": " + (e.message || e), true);
    }
    refresh();
  }

  async function all(action) {
    if (!window.confirm((action === "stop" ? "Stop" : "Restart") + " all processes?")) return;
    say(action + " all...");
    try {
      await rpc("supervisor.stopAllProcesses", [true]);
      if (action === "restart") await rpc("supervisor.startAllProcesses", [false]);
      say(action + " all: done");
    } catch (e) {
      say(action + " all: " + (e.message || e), true);
    }
    refresh();
  }

  function button(label, action, target, isGroup) {
    const b = document.createElement("button");
    b.type = "button";
    b.textContent = label;
    b.dataset.action = action;
    b.addEventListener("click", () => act(action, target, isGroup));
    return b;
  }

  function uptime(p) {
    if (p.statename !== "RUNNING" || !p.start) return "";
    let s = Math.max(0, p.now - p.start);
    const d = Math.floor(s / 86400); s -= d * 86400;
    const h = Math.floor(s / 3600); s -= h * 3600;
    const m = Math.floor(s / 60); s -= m * 60;
    const hms = h + ":" + String(m).padStart(2, "0") + ":" + String(s).padStart(2, "0");
    return d ? d + "d " + hms : hms;
  }

  function makeRow(p) {
    const ns = namespec(p);
    const tr = document.createElement("tr");
    tr.className = "process-row";
    tr.dataset.name = ns;
    const cells = {};
    for (const k of ["state", "name", "group", "pid", "uptime", "description", "actions"]) {
      const td = document.createElement("td");
      td.className = k;
      tr.appendChild(td);
      cells[k] = td;
    }
    cells.badge = document.createElement("span");
    cells.state.appendChild(cells.badge);
    cells.name.textContent = p.name;
    cells.group.textContent = p.group;
    cells.actions.append(
      button("Start", "start", ns), button("Stop", "stop", ns), button("Restart", "restart", ns),
      button("Clear log", "clear", ns));
    const tail = document.createElement("button");
    tail.type = "button";
    tail.textContent = "Tail";
    tail.dataset.action = "tail";
    tail.addEventListener("click", () => openTail(ns));
    cells.actions.appendChild(tail);
    return { tr, cells };
  }

  function setText(el, text) {
    if (el.textContent !== text) el.textContent = text;
  }

  function makeGroupRow(group) {
    const tr = document.createElement("tr");
    tr.className = "group-row";
    tr.dataset.group = group;
    const td = document.createElement("td");
    td.colSpan = 6;
    td.textContent = "Group " + group;
    const actions = document.createElement("td");
    actions.append(button("Start group", "start", group, true), button("Stop group", "stop", group, true),
      button("Restart group", "restart", group, true), button("Clear group logs", "clear", group, true));
    tr.append(td, actions);
    return tr;
  }

  function render(data) {
    const procs = Array.isArray(data.processes) ? data.processes : [];
    lastProcesses = procs;
    if (data.state && data.state.statename) setText($("daemon-state"), data.state.statename);
    if (typeof data.identification === "string") setText($("identification"), data.identification);
    const text = $("filter").value.trim().toLowerCase();
    const wanted = $("state-filter").value;
    const counts = {};
    const seen = new Set();
    const groupSizes = new Map();
    for (const p of procs) groupSizes.set(p.group, (groupSizes.get(p.group) || 0) + 1);
    const frag = [];
    let shown = 0;
    let lastGroup = null;
    for (const p of procs) {
      counts[p.statename] = (counts[p.statename] || 0) + 1;
      const ns = namespec(p);
      seen.add(ns);
      let r = rows.get(ns);
      if (!r) { r = makeRow(p); rows.set(ns, r); }
      r.proc = p;
      const c = r.cells;
      setText(c.badge, p.statename);
      const cls = "state state-" + p.statename;
      if (c.badge.className !== cls) c.badge.className = cls;
      if (r.tr.dataset.state !== p.statename) r.tr.dataset.state = p.statename;
      setText(c.pid, p.pid ? String(p.pid) : "");
      setText(c.uptime, uptime(p));
      setText(c.description, p.description || "");
      const visible = (!text || ns.toLowerCase().includes(text)) && (!wanted || p.statename === wanted);
      if (!visible) continue;
      shown++;
      if (groupSizes.get(p.group) > 1 || p.group !== p.name) {
        if (p.group !== lastGroup) {
          let g = groupRows.get(p.group);
          if (!g) { g = makeGroupRow(p.group); groupRows.set(p.group, g); }
          frag.push(g);
        }
      }
      lastGroup = p.group;
      frag.push(r.tr);
    }
    for (const ns of [...rows.keys()]) if (!seen.has(ns)) rows.delete(ns);
    for (const g of [...groupRows.keys()]) if (!groupSizes.has(g)) groupRows.delete(g);
    // Re-append only when the visible order changed, so rows (and their buttons) stay put.
    const body = $("process-rows");
    const current = body.children;
    let same = current.length === frag.length;
    for (let i = 0; same && i < frag.length; i++) same = current[i] === frag[i];
    if (!same) body.replaceChildren(...frag);
    $("empty").hidden = shown !== 0;
    setText($("counts"), Object.keys(counts).sort().map((k) => k + ": " + counts[k]).join("  "));
  }

  let inflight = false;
  async function refresh() {
    if (inflight) return;
    inflight = true;
    try {
      const res = await fetch(BASE + "api/status", { cache: "no-store" });
      if (!res.ok) throw new Error("HTTP " + res.status);
      render(await res.json());
    } catch (e) {
      say("cannot reach supervisord: " + e.message, true);
    } finally {
      inflight = false;
    }
  }

  async function follow(ns, channel, pre, signal) {
    pre.textContent = "";
    try {
      const res = await fetch(BASE + "logtail/" + encodeURIComponent(ns) + "/" + channel, { signal, cache: "no-store" });
      if (!res.ok) { pre.textContent = "(no " + channel + " log)"; return; }
      const reader = res.body.getReader();
      const decoder = new TextDecoder();
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        const atBottom = pre.scrollTop + pre.clientHeight >= pre.scrollHeight - 4;
        let t = pre.textContent + decoder.decode(value, { stream: true });
        if (t.length > TAIL_MAX) t = t.slice(t.length - TAIL_MAX);
        pre.textContent = t;
        if (atBottom) pre.scrollTop = pre.scrollHeight;
      }
    } catch (e) {
      if (e.name !== "AbortError") pre.textContent += "\n(tail ended: " + e.message + ")";
    }
  }

  function closeTail() {
    if (tailAbort) tailAbort.abort();
    tailAbort = null;
    $("tail").hidden = true;
    document.body.classList.remove("tailing");
  }

  function openTail(ns) {
    closeTail();
    tailAbort = new AbortController();
    $("tail-name").textContent = ns;
    $("tail").hidden = false;
    document.body.classList.add("tailing");
    $("tail").dataset.name = ns;
    follow(ns, "stdout", $("tail-stdout"), tailAbort.signal);
    follow(ns, "stderr", $("tail-stderr"), tailAbort.signal);
  }

  $("filter").addEventListener("input", () => render({ processes: lastProcesses }));
  $("state-filter").addEventListener("change", () => render({ processes: lastProcesses }));
  $("refresh").addEventListener("click", refresh);
  $("stop-all").addEventListener("click", () => all("stop"));
  $("restart-all").addEventListener("click", () => all("restart"));
  $("tail-close").addEventListener("click", closeTail);
  refresh();
  setInterval(refresh, REFRESH_MS);
})();
