// Drives the exporter's /topology page during an outage in headless Debian Chromium through
// playwright-core and prints what it saw as JSON; the Rust test (tests/reach_lab.rs) asserts
// on it: the banner of isolated sites, the cause in red with its text, the devices in its
// shadow greyed and marked, their tooltips, the colours as the browser computed them.
// Usage: node outage_test.mjs BASE_URL SCREENSHOT_PATH
import { chromium } from "playwright-core";

const [base, shot] = process.argv.slice(2);
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--no-first-run"],
});
const out = {};
try {
  const page = await browser.newPage({ viewport: { width: 1600, height: 1000 } });
  const external = [];
  page.on("request", (r) => { if (!r.url().startsWith(base)) external.push(r.url()); });
  const errors = [];
  page.on("pageerror", (e) => errors.push(String(e)));
  await page.goto(base + "/topology");
  await page.waitForSelector("body[data-loaded=true]", { timeout: 20000 });
  await page.waitForSelector("#outages:not([hidden]) li", { timeout: 20000 });
  out.banner_visible = await page.isVisible("#outages");
  out.banner_sites = await page.$$eval("#outages li.site-isolated", (ls) => ls.map((l) => l.textContent));
  const nodes = await page.$$eval("#graph g.node", (gs) => gs.map((g) => {
    const rect = g.querySelector("rect, polygon, ellipse");
    const note = [...document.querySelectorAll("#graph g.notes text.note")]
      .find((t) => t.dataset.for === g.dataset.name);
    const title = g.querySelector("title");
    return {
      name: g.dataset.name,
      state: g.dataset.state,
      classes: [...g.classList].sort(),
      fill: rect ? getComputedStyle(rect).fill : null,
      note: note ? note.textContent : null,
      note_class: note ? note.getAttribute("class") : null,
      note_fill: note ? getComputedStyle(note).fill : null,
      title: title ? title.textContent : null,
      // Whether the note lies inside the visible SVG (not clipped at its edge).
      note_inside: note ? (() => {
        const svg = g.ownerSVGElement; const b = note.getBBox();
        return b.x >= 0 && b.y + b.height <= Number(svg.getAttribute("height"));
      })() : null,
    };
  }));
  out.nodes = Object.fromEntries(nodes.map((n) => [n.name, n]));
  out.silent_edges = await page.$$eval("#graph g.edge.rs-silent title", (ts) => ts.map((t) => t.textContent));
  out.legend = await page.$$eval(".legend .sw", (s) => s.map((x) => x.className));
  out.summary = await page.textContent("#summary");
  await page.screenshot({ path: shot, fullPage: true });
  out.external_requests = external;
  out.page_errors = errors;
} finally {
  await browser.close();
}
console.log(JSON.stringify(out));
