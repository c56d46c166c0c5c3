/// The status page (`GET /status` on metricsd's port): one HTML document with its style, script and
/// charts inline (inline SVG), nothing fetched from elsewhere. Its script polls `/status.json` every two
/// seconds and computes, from the difference between two answers, requests and tokens per second and the
/// latency and first-token percentiles of the last ten seconds or more; the first answer also brings metricsd's
/// recent history (``StatusHistory``), so the charts start full. Lifetime totals are shown as they are
/// (the elements with ids ending in `-total`, which the test compares with /metrics).
enum StatusPage {
    static let html = #"""
<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>infer status</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body{font:14px/1.4 system-ui,sans-serif;margin:0;background:#f6f7f9;color:#1d232b}
header{background:#1d232b;color:#fff;padding:10px 18px;display:flex;justify-content:space-between}
main{padding:14px 18px;display:grid;gap:14px;grid-template-columns:repeat(auto-fill,minmax(260px,1fr))}
section{background:#fff;border:1px solid #dde1e6;border-radius:6px;padding:10px 12px}
section.wide{grid-column:1/-1}
h2{font-size:12px;text-transform:uppercase;letter-spacing:.05em;color:#5b6570;margin:0 0 6px}
.big{font-size:26px;font-weight:600}.small{color:#5b6570;font-size:12px}
table{border-collapse:collapse;width:100%}td,th{text-align:left;padding:3px 6px;border-bottom:1px solid #eef0f3}
.up{color:#1a7f37}.down{color:#cf222e}.open{color:#cf222e}.half-open{color:#9a6700}.closed{color:#1a7f37}
svg{width:100%;height:60px}polyline{fill:none;stroke:#0969da;stroke-width:1.5}
</style></head>
<body data-polls="0">
<header><strong>infer</strong><span id="updated">waiting for the first figures…</span></header>
<main>
<section><h2>Requests per second</h2><div class="big" id="rps">–</div><svg id="rps-chart" viewBox="0 0 90 60" preserveAspectRatio="none"><polyline points=""/></svg>
<div class="small">total <span id="requests-total">–</span>, errors <span id="errors-total">–</span>, 429 <span id="rate-limited-total">–</span></div></section>
<section><h2>Latency (last 10 s)</h2><div class="big"><span id="p50">–</span> / <span id="p95">–</span> / <span id="p99">–</span></div><div class="small">p50 / p95 / p99 of every HTTP request</div></section>
<section><h2>Time to first token (last 10 s)</h2><div class="big"><span id="ttft50">–</span> / <span id="ttft95">–</span></div><svg id="ttft-chart" viewBox="0 0 90 60" preserveAspectRatio="none"><polyline points=""/></svg><div class="small">p50 / p95; generations <span id="generations-total">–</span></div></section>
<section><h2>Tokens per second</h2><div class="big" id="tps">–</div><svg id="tps-chart" viewBox="0 0 90 60" preserveAspectRatio="none"><polyline points=""/></svg>
<div class="small">generated <span id="generated-tokens-total">–</span>, prompt <span id="prompt-tokens-total">–</span></div></section>
<section><h2>Cache hit ratio</h2><div class="big" id="hit-ratio">–</div><div class="small">lifetime <span id="cache-hit-ratio-total">–</span> (hits <span id="cache-hits-total">–</span>, misses <span id="cache-misses-total">–</span>)</div></section>
<section><h2>Queue</h2><div class="big" id="queue">–</div><div class="small">waiting; running <span id="inflight">–</span></div></section>
<section><h2>Spend</h2><div class="big">$<span id="spend-total">–</span></div><div class="small">USD at the registry's prices since frontd started</div></section>
<section class="wide"><h2>Daemons</h2><table><thead><tr><th>daemon</th><th>state</th><th>pid</th><th>uptime</th><th>restarts</th></tr></thead><tbody id="daemons"></tbody></table></section>
<section class="wide"><h2>Circuit breakers</h2><table><tbody id="breakers"><tr><td class="small">none</td></tr></tbody></table></section>
</main>
<script>
"use strict";
const history = [];
const $ = id => document.getElementById(id);
function quantile(q, bounds, counts, total) {
  if (!total) return null;
  const rank = q * total;
  let prevBound = 0, prevCount = 0;
  for (let i = 0; i < bounds.length; i++) {
    if (counts[i] >= rank) {
      const inBucket = counts[i] - prevCount;
      return inBucket > 0 ? prevBound + (bounds[i] - prevBound) * (rank - prevCount) / inBucket : bounds[i];
    }
    prevBound = bounds[i]; prevCount = counts[i];
  }
  return bounds.length ? bounds[bounds.length - 1] : null;
}
function delta(a, b, key) {
  const h1 = b[key], h0 = a[key];
  return {bounds: h1.bounds, counts: h1.counts.map((c, i) => c - (h0.counts[i] || 0)), count: h1.count - h0.count};
}
function seconds(v) { return v === null ? "–" : v < 1 ? (v * 1000).toFixed(v < 0.01 ? 2 : 0) + " ms" : v.toFixed(2) + " s"; }
function duration(s) { s = Math.floor(s); const d = Math.floor(s / 86400), h = Math.floor(s % 86400 / 3600), m = Math.floor(s % 3600 / 60);
  return d ? d + "d " + h + "h" : h ? h + "h " + m + "m" : m + "m " + (s % 60) + "s"; }
function spark(id, values) {
  const max = Math.max(1e-9, ...values);
  $(id).querySelector("polyline").setAttribute("points", values.map((v, i) => (i * 90 / Math.max(1, values.length - 1)).toFixed(1) + "," + (58 - 56 * v / max).toFixed(1)).join(" "));
}
function render() {
  const now = history[history.length - 1], t = now.totals;
  $("requests-total").textContent = t.requests; $("errors-total").textContent = t.errors; $("rate-limited-total").textContent = t.rate_limited;
  $("generated-tokens-total").textContent = t.generated_tokens; $("prompt-tokens-total").textContent = t.prompt_tokens;
  $("cache-hits-total").textContent = t.cache_hits; $("cache-misses-total").textContent = t.cache_misses;
  const lookups = t.cache_hits + t.cache_misses;
  $("cache-hit-ratio-total").textContent = lookups ? (100 * t.cache_hits / lookups).toFixed(1) + " %" : "–";
  $("spend-total").textContent = t.spend_usd.toFixed(6);
  $("generations-total").textContent = now.ttft.count;
  $("queue").textContent = now.queue_depth; $("inflight").textContent = now.in_flight;
  $("daemons").innerHTML = now.daemons.map(d => "<tr><td>" + d.name + "</td><td class=" + (d.up ? "up>● up" : "down>● down") + "</td><td>" + (d.pid ?? "–") +
    "</td><td>" + (d.uptime_seconds === undefined ? "–" : duration(d.uptime_seconds)) + "</td><td>" + d.restarts + "</td></tr>").join("");
  const names = Object.keys(now.breakers).sort();
  if (names.length) $("breakers").innerHTML = names.map(n => "<tr><td>" + n + "</td><td class=" + now.breakers[n] + ">" + now.breakers[n] + "</td></tr>").join("");
  $("updated").textContent = "updated " + new Date(now.time * 1000).toLocaleTimeString();
  if (history.length < 2) return;
  // Headline figures over the last 10 s or more (the newest entry at least 10 s older, else the oldest).
  let prev = history[0];
  for (const h of history) if (h.time <= now.time - 10) prev = h;
  const dt = Math.max(1e-3, now.time - prev.time);
  const rps = (t.requests - prev.totals.requests) / dt, tps = (t.generated_tokens - prev.totals.generated_tokens) / dt;
  $("rps").textContent = rps.toFixed(1); $("tps").textContent = tps.toFixed(1);
  const lat = delta(prev, now, "latency"), ttft = delta(prev, now, "ttft");
  $("p50").textContent = seconds(quantile(0.5, lat.bounds, lat.counts, lat.count));
  $("p95").textContent = seconds(quantile(0.95, lat.bounds, lat.counts, lat.count));
  $("p99").textContent = seconds(quantile(0.99, lat.bounds, lat.counts, lat.count));
  $("ttft50").textContent = seconds(quantile(0.5, ttft.bounds, ttft.counts, ttft.count));
  $("ttft95").textContent = seconds(quantile(0.95, ttft.bounds, ttft.counts, ttft.count));
  const hits = t.cache_hits - prev.totals.cache_hits, looked = hits + t.cache_misses - prev.totals.cache_misses;
  $("hit-ratio").textContent = looked ? (100 * hits / looked).toFixed(0) + " %" : "–";
  const rates = (key) => history.slice(1).map((h, i) => (h.totals[key] - history[i].totals[key]) / Math.max(1e-3, h.time - history[i].time));
  spark("rps-chart", rates("requests")); spark("tps-chart", rates("generated_tokens"));
  spark("ttft-chart", history.slice(1).map((h, i) => { const d = delta(history[i], h, "ttft"); return quantile(0.95, d.bounds, d.counts, d.count) || 0; }));
}
async function poll() {
  try {
    const r = await fetch("/status.json", {cache: "no-store"});
    if (r.ok) { const figures = await r.json();
      // The first answer brings metricsd's recent history, so the charts start full.
      if (!history.length && figures.history) for (const h of figures.history.slice(0, -1)) history.push(h);
      history.push(figures); if (history.length > 90) history.shift(); render();
      document.body.dataset.polls = String(Number(document.body.dataset.polls) + 1); }
  } catch (e) { $("updated").textContent = "metricsd unreachable: " + e; }
}
poll(); setInterval(poll, 2000);
</script>
</body></html>
"""#
}
