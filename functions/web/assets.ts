import { createHash } from "node:crypto";

/**
 * The dashboard's only stylesheet and script, served from /static (the CSP allows no inline style
 * or script). Kept as strings so the Lambda bundle carries them; the script is progressive: every
 * page works without it (it adds the filter box and the run sparklines).
 */

const CSS = `
:root{--fg:#1d2939;--muted:#667085;--line:#e4e7ec;--bg:#fff;--alert:#b42318;--ok:#067647;--paused:#475467;--new:#1570ef}
*{box-sizing:border-box}
body{margin:0;font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:var(--fg);background:var(--bg)}
header.top{display:flex;gap:1rem;align-items:center;flex-wrap:wrap;padding:.6rem 1rem;border-bottom:1px solid var(--line)}
.brand{font-weight:700;color:var(--fg);text-decoration:none}
nav a{margin-right:.8rem}
.signout{margin-left:auto;display:flex;gap:.5rem;align-items:center}
.user{color:var(--muted)}
main{padding:1rem;max-width:1200px;margin:0 auto}
h1{font-size:1.4rem;margin:.2rem 0 .8rem}
h2{font-size:1.1rem;margin:1.4rem 0 .5rem}
table{border-collapse:collapse;width:100%}
th,td{text-align:left;padding:.35rem .5rem;border-bottom:1px solid var(--line);vertical-align:top}
th{font-size:.8rem;color:var(--muted);font-weight:600}
small,.muted{color:var(--muted)}
.msg{color:var(--muted);overflow-wrap:anywhere}
.badge{display:inline-block;padding:0 .45rem;border-radius:.6rem;font-size:.8rem;font-weight:600;color:#fff;background:var(--paused);white-space:nowrap}
.badge.alert{background:var(--alert);color:#fff}.badge.ok{background:var(--ok);color:#fff}.badge.new{background:var(--new)}
.badge.alert.acked{background:#dc6803}
.fail{color:var(--alert);font-weight:600}span.ok{color:var(--ok)}
.lead{font-size:1.05rem;font-weight:600;color:var(--alert);overflow-wrap:anywhere}
.notice{background:#ecfdf3;border:1px solid #abefc6;padding:.5rem .8rem;border-radius:.4rem}
.error{background:#fef3f2;border:1px solid #fecdca;padding:.5rem .8rem;border-radius:.4rem}
.actions{display:flex;gap:.6rem;flex-wrap:wrap;margin:.8rem 0}
.action{display:flex;gap:.4rem}
button{font:inherit;padding:.3rem .8rem;border:1px solid #98a2b3;border-radius:.4rem;background:#f9fafb;cursor:pointer}
input{font:inherit;padding:.3rem .5rem;border:1px solid #d0d5dd;border-radius:.4rem}
dl.config{display:grid;grid-template-columns:max-content 1fr;gap:.2rem 1rem}
dl.config dt{color:var(--muted)}dl.config dd{margin:0;overflow-wrap:anywhere}
.summary{display:flex;gap:.4rem;flex-wrap:wrap;align-items:center}
#filter{margin-left:auto;min-width:14rem}
.signin,.confirm{max-width:28rem;margin:2rem auto}
.signin form,.confirm form{display:grid;gap:.7rem}
.signin label,.confirm label{display:grid;gap:.2rem}
td.s svg{display:block}
td.s rect.ok{fill:var(--ok)}td.s rect.fail{fill:var(--alert)}td.s rect.quiet{fill:#abefc6}
#monitors tr.alert td:nth-child(2){color:var(--alert);font-weight:700}#monitors tr.ok td:nth-child(2){color:var(--ok);font-weight:600}
#monitors tr.acked td:nth-child(2){color:#dc6803}#monitors tr.paused td:nth-child(2){color:var(--paused)}
tr.hidden{display:none}
@media (max-width:700px){th:nth-child(3),td:nth-child(3),th:nth-child(5),td:nth-child(5),th:nth-child(7),td:nth-child(7){display:none}}
`;

const JS = `"use strict";
(function () {
  var filter = document.getElementById("filter");
  var table = document.getElementById("monitors");
  if (filter && table) {
    filter.addEventListener("input", function () {
      var q = filter.value.trim().toLowerCase();
      table.querySelectorAll("tbody tr").forEach(function (row) {
        row.classList.toggle("hidden", q !== "" && row.textContent.toLowerCase().indexOf(q) < 0);
      });
    });
  }
  var cells = document.querySelectorAll("#monitors td.s");
  function idOf(cell) {
    var link = cell.parentNode.querySelector("a");
    return link ? decodeURIComponent(link.getAttribute("href").split("/").pop()) : "";
  }
  if (!cells.length || !("IntersectionObserver" in window) || !window.fetch) return;
  var pending = [];
  var timer = null;
  var NS = "http://www.w3.org/2000/svg";
  function draw(cell, runs) {
    var svg = document.createElementNS(NS, "svg");
    var n = runs.length;
    svg.setAttribute("width", String(Math.max(4, n * 4)));
    svg.setAttribute("height", "16");
    svg.setAttribute("role", "img");
    svg.setAttribute("aria-label", n + " recent runs");
    runs.forEach(function (run, i) {
      var rect = document.createElementNS(NS, "rect");
      rect.setAttribute("x", String(i * 4));
      rect.setAttribute("y", run === "fail" ? "0" : "6");
      rect.setAttribute("width", "3");
      rect.setAttribute("height", run === "fail" ? "16" : "10");
      rect.setAttribute("class", run);
      svg.appendChild(rect);
    });
    cell.textContent = "";
    cell.appendChild(svg);
  }
  function flush() {
    timer = null;
    var batch = pending.splice(0, 25);
    if (!batch.length) return;
    var ids = batch.map(idOf);
    fetch("/api/sparklines?ids=" + ids.map(encodeURIComponent).join(","), { credentials: "same-origin", headers: { accept: "application/json" } })
      .then(function (response) { return response.ok ? response.json() : {}; })
      .then(function (data) {
        batch.forEach(function (cell) {
          var runs = data[idOf(cell)];
          if (runs) draw(cell, runs);
          cell.setAttribute("data-loaded", "true");
        });
      })
      .catch(function () {});
    if (pending.length) timer = setTimeout(flush, 0);
  }
  var observer = new IntersectionObserver(function (entries) {
    entries.forEach(function (entry) {
      if (!entry.isIntersecting) return;
      observer.unobserve(entry.target);
      pending.push(entry.target);
    });
    if (pending.length && timer === null) timer = setTimeout(flush, 50);
  });
  cells.forEach(function (cell) { observer.observe(cell); });
})();
`;

export interface StaticAsset {
  body: string;
  contentType: string;
  etag: string;
}

const asset = (body: string, contentType: string): StaticAsset => ({
  body,
  contentType,
  etag: `"${createHash("sha256").update(body).digest("base64url").slice(0, 16)}"`,
});

export const STATIC_ASSETS: Record<string, StaticAsset> = {
  "/static/app.css": asset(CSS.trim(), "text/css; charset=utf-8"),
  "/static/app.js": asset(JS, "text/javascript; charset=utf-8"),
};
