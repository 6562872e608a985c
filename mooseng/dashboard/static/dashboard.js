// The dashboard page: one event stream (/api/events) keeps it live; /api/ gives the rest.
"use strict";

const SVG = "http://www.w3.org/2000/svg";
const WINDOW = 300;            // throughput points kept on the chart (one a second)
let throughput = [];

function el(tag, attrs = {}, text = "") {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  if (text !== "") node.textContent = text;
  return node;
}

function svgEl(tag, attrs = {}, text = "") {
  const node = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  if (text !== "") node.textContent = text;
  return node;
}

function size(bytes) {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let i = 0;
  while (bytes >= 1024 && i < units.length - 1) { bytes /= 1024; i++; }
  return `${bytes.toFixed(i ? 1 : 0)} ${units[i]}`;
}

function clock(seconds) {
  return new Date(seconds * 1000).toLocaleTimeString();
}

function fillRows(tbody, rows) {
  tbody.replaceChildren(...rows);
}

// ------------------------------------------------------------------ cluster

function renderCluster(cluster) {
  const master = cluster.master || {};
  const state = document.getElementById("master-state");
  state.dataset.reachable = String(!!master.reachable);
  state.textContent = master.reachable
    ? `master ${master.address}`
    : `master unreachable since ${clock(master.since)}: ${master.error}`;
  document.getElementById("updated").textContent = `updated ${clock(cluster.time)}`;
  const status = cluster.status;
  if (!status) return;
  const health = document.getElementById("health");
  health.dataset.health = master.reachable ? status.health : "unknown";
  health.textContent = master.reachable ? status.health : "unknown";
  fillRows(document.querySelector("#checks tbody"), status.checks.map(c => {
    const row = el("tr", {"data-check": c.name});
    row.append(el("td", {}, c.name), el("td", {}, ""), el("td", {}, c.message));
    row.children[1].append(el("span", {class: "state", "data-status": c.status}, c.status));
    return row;
  }));
  for (const dd of document.querySelectorAll("#chunks [data-count]")) {
    dd.textContent = status[dd.dataset.count];
  }
  document.getElementById("masters-section").hidden = status.masters.length === 0;
  fillRows(document.querySelector("#masters tbody"), status.masters.map(m => {
    const row = el("tr", {"data-master": m.name, "data-role": m.role});
    row.append(el("td", {}, m.name), el("td", {}, m.address), el("td", {}, m.role),
               el("td", {class: "num"}, String(m.metadata_version)),
               el("td", {class: "num"}, String(m.lag_entries)),
               el("td", {class: "num"}, `${m.report_age_seconds.toFixed(1)} s ago`));
    return row;
  }));
  fillRows(document.querySelector("#chunkservers tbody"), cluster.chunkservers.map(s => {
    const row = el("tr", {"data-server-id": s.id, "data-state": s.state});
    const labels = Object.entries(s.labels).map(([k, v]) => `${k}=${v}`).join(", ");
    row.append(el("td", {}, s.id), el("td", {}, s.address), el("td"),
               el("td", {}, labels || "–"), el("td", {class: "num"}, size(s.used)),
               el("td", {class: "num"}, size(s.capacity)),
               el("td", {class: "num"}, String(s.chunk_count)),
               el("td", {}, s.metrics_reachable ? "answering" : "not answering"));
    row.children[2].append(el("span", {class: "state", "data-state": s.state}, s.state));
    return row;
  }));
  if (master.reachable && cluster.rates) {
    document.getElementById("rate-read").textContent = cluster.rates.read_mb_s.toFixed(1);
    document.getElementById("rate-write").textContent = cluster.rates.write_mb_s.toFixed(1);
    document.getElementById("rate-ops").textContent = cluster.rates.metadata_ops_s.toFixed(0);
  }
}

// ------------------------------------------------------------------ charts

function lineChart(svg, series, xLabel, dots) {
  const W = 800, H = 200, L = 50, R = 10, T = 10, B = 25;
  const all = series.flatMap(s => s.points);
  svg.replaceChildren();
  if (all.length === 0) {
    svg.append(svgEl("text", {x: L, y: H / 2}, "no data yet"));
    return;
  }
  const xs = all.map(p => p[0]), ys = all.map(p => p[1]);
  const x0 = Math.min(...xs), x1 = Math.max(...xs), y1 = Math.max(...ys) * 1.1 || 1;
  const px = x => L + (x1 === x0 ? (W - L - R) / 2 : (x - x0) / (x1 - x0) * (W - L - R));
  const py = y => H - B - y / y1 * (H - T - B);
  svg.append(svgEl("line", {class: "axis", x1: L, y1: H - B, x2: W - R, y2: H - B}),
             svgEl("line", {class: "axis", x1: L, y1: T, x2: L, y2: H - B}),
             svgEl("text", {x: 2, y: T + 10}, y1.toFixed(1)),
             svgEl("text", {x: 2, y: H - B}, "0"),
             svgEl("text", {x: L, y: H - 5}, xLabel(x0)),
             svgEl("text", {x: W - R - 60, y: H - 5}, xLabel(x1)));
  series.forEach((s, i) => {
    const points = s.points.map(p => `${px(p[0]).toFixed(1)},${py(p[1]).toFixed(1)}`);
    svg.append(svgEl("polyline", {class: s.cls, points: points.join(" ")}),
               svgEl("text", {class: `legend-${s.name}`, x: W - R - 160 + i * 80, y: T + 10},
                     s.name));
    if (dots) {
      for (const p of s.points) svg.append(svgEl("circle", {cx: px(p[0]), cy: py(p[1]), r: 3}));
    }
  });
}

function drawThroughput() {
  const svg = document.getElementById("throughput");
  svg.dataset.peakRead = Math.max(0, ...throughput.map(p => p.read_mb_s));
  svg.dataset.peakWrite = Math.max(0, ...throughput.map(p => p.write_mb_s));
  lineChart(svg, [
    {name: "read", cls: "line-read", points: throughput.map(p => [p.time, p.read_mb_s])},
    {name: "write", cls: "line-write", points: throughput.map(p => [p.time, p.write_mb_s])},
  ], clock, false);
}

// ------------------------------------------------------------------ benchmarks

async function loadBenchmarks() {
  const reply = await (await fetch("/api/benchmarks")).json();
  document.getElementById("bench-note").textContent = reply.error
    || `${reply.runs.length} runs in ${reply.database}`;
  fillRows(document.querySelector("#runs tbody"), reply.runs.map(r => {
    const row = el("tr", {"data-run-id": r.id});
    const t = r.topology;
    const medians = Object.entries(r.workloads)
      .map(([name, w]) => `${name} ${w.median.toFixed(1)} ${w.unit}`).join(", ");
    row.append(el("td", {}, `${r.id}${r.baseline ? " (baseline)" : ""}`),
               el("td", {}, new Date(r.started * 1000).toLocaleString()),
               el("td", {}, r.suite), el("td", {}, r.commit),
               el("td", {}, `${t.masters} masters, ${t.chunkservers} chunk servers, goal ${t.goal}`),
               el("td", {}, medians));
    return row;
  }));
  const select = document.getElementById("trend-workload");
  const names = [...new Set(reply.runs.flatMap(r => Object.keys(r.workloads)))];
  const chosen = select.value || names[0];
  select.replaceChildren(...names.map(n => el("option", {value: n}, n)));
  if (chosen) select.value = chosen;
  await drawTrend();
}

async function drawTrend() {
  const workload = document.getElementById("trend-workload").value;
  const svg = document.getElementById("trend");
  if (!workload) { lineChart(svg, [], String, true); return; }
  const reply = await (await fetch(`/api/trends/${encodeURIComponent(workload)}`)).json();
  svg.dataset.runs = reply.points.map(p => p.run).join(",");
  const unit = reply.points.length ? reply.points[0].unit : "";
  lineChart(svg, [{name: unit, cls: "line-trend", points: reply.points.map(p => [p.run, p.median])}],
            x => `run ${x}`, true);
}

// ------------------------------------------------------------------ start

async function start() {
  throughput = await (await fetch("/api/throughput")).json();
  drawThroughput();
  renderCluster(await (await fetch("/api/cluster")).json());
  document.getElementById("trend-workload").addEventListener("change", drawTrend);
  const events = new EventSource("/api/events");
  events.addEventListener("cluster", e => {
    const data = JSON.parse(e.data);
    renderCluster(data.cluster);
    if (data.point && (!throughput.length || throughput.at(-1).time !== data.point.time)) {
      throughput.push(data.point);
      throughput = throughput.slice(-WINDOW);
      drawThroughput();
    }
  });
  events.addEventListener("benchmarks", loadBenchmarks);
  events.onerror = () => {
    document.getElementById("updated").textContent = "dashboard not answering, retrying…";
  };
}

start();
