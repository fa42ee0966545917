// Drives the exporter's /topology page in headless Debian Chromium through playwright-core and
// prints what it measured as JSON; the Rust test (tests/topology_lab.rs) asserts on it.
// Usage: node page_test.mjs BASE_URL SCREENSHOT_PATH DEVICE_TO_CLICK
import { chromium } from "playwright-core";

const [base, shot, device] = process.argv.slice(2);
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
  out.nodes = await page.locator("#graph g.node").count();
  out.edges = await page.locator("#graph g.edge").count();
  out.nodes_up = await page.locator("#graph g.node.st-up").count();
  out.edges_up = await page.locator("#graph g.edge.st-up").count();
  out.node_names = await page.$$eval("#graph g.node", (gs) => gs.map((g) => g.dataset.name).sort());
  // Click the device: its interface table fills in.
  await page.locator(`#graph g.node[data-name="${device}"] rect`).click({ force: true });
  await page.waitForSelector("#ifaces tbody tr", { timeout: 20000 });
  out.interface_rows = await page.$$eval("#ifaces tbody tr", (rs) => rs.map((r) => r.dataset.if).sort());
  out.interface_columns = await page.$$eval("#ifaces thead th", (hs) => hs.map((h) => h.textContent));
  await page.waitForSelector("#neighbors tbody tr", { timeout: 20000 });
  out.neighbor_rows = await page.locator("#neighbors tbody tr").count();
  // Traffic: after the second interface poll, rates replace the dashes on up interfaces.
  await page.waitForFunction(() => [...document.querySelectorAll("#ifaces tbody tr td:nth-child(6)")]
    .some((td) => /bit\/s/.test(td.textContent)), null, { timeout: 20000 });
  out.traffic_shown = true;
  // Impact view: the device fails; what is cut off turns orange.
  await page.click("#device-impact");
  await page.waitForFunction(() => !document.getElementById("impact").hidden &&
    document.getElementById("impact-text").textContent.length > 0, null, { timeout: 20000 });
  out.lost_highlighted = await page.$$eval("#graph g.node.lost", (gs) => gs.map((g) => g.dataset.name).sort());
  out.failed_highlighted = await page.$$eval("#graph g.node.failed", (gs) => gs.map((g) => g.dataset.name));
  out.cut_edges = await page.locator("#graph g.edge.cut").count();
  out.impact_text = await page.textContent("#impact-text");
  await page.screenshot({ path: shot, fullPage: true });
  out.external_requests = external;
  out.page_errors = errors;
} finally {
  await browser.close();
}
console.log(JSON.stringify(out));
