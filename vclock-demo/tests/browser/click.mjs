// Opens a page written by `vclock-demo diagram -o run.html` in headless
// Chromium, clicks one event, and prints (JSON on stdout) the classes every
// event and message then has and the text of the info bar; saves a
// screenshot. Run by tests/browser.rs:
//
//   node click.mjs PAGE.html EVENT-NAME SCREENSHOT.png
//
// It also fails if the page asks for anything over the network.
import { chromium } from "playwright-core";

const [page_path, name, screenshot] = process.argv.slice(2);
if (!page_path || !name || !screenshot) {
  console.error("usage: node click.mjs PAGE.html EVENT-NAME SCREENSHOT.png");
  process.exit(2);
}

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
});
try {
  const page = await browser.newPage({ viewport: { width: 900, height: 400 } });
  const requests = [];
  page.on("request", (r) => {
    if (!r.url().startsWith("file:")) requests.push(r.url());
  });
  const errors = [];
  page.on("pageerror", (e) => errors.push(String(e)));
  await page.goto("file://" + page_path);
  const before = await page.locator("svg .event.concurrent, svg .event.past, svg .event.future").count();
  await page.locator(`svg .event[data-name="${name}"] circle`).click();
  const state = await page.evaluate(() => {
    const classes = (el) => Array.from(el.classList).filter((c) => c !== "event" && c !== "message");
    const events = {};
    for (const g of document.querySelectorAll("svg .event")) {
      events[g.getAttribute("data-name")] = {
        classes: classes(g),
        opacity: getComputedStyle(g).opacity,
      };
    }
    const messages = Array.from(document.querySelectorAll("svg .message")).map((m) => ({
      send: m.getAttribute("data-send"),
      receive: m.getAttribute("data-receive"),
      classes: classes(m),
    }));
    return {
      events,
      messages,
      selectedName: document.getElementById("selected-name")?.textContent ?? null,
      selectedClock: document.getElementById("selected-clock")?.textContent ?? null,
      info: document.getElementById("info").textContent,
    };
  });
  await page.screenshot({ path: screenshot, fullPage: true });
  await page.keyboard.press("Escape");
  const afterEscape = await page.locator("svg .event.concurrent, svg .event.past, svg .event.future, svg .event.selected").count();
  console.log(JSON.stringify({ ...state, highlightedBeforeClick: before, highlightedAfterEscape: afterEscape, requests, errors }));
} finally {
  await browser.close();
}
