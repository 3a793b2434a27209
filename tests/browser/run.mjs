// End-to-end test of the parvis admin UI in headless Chromium (Debian's
// `chromium`, driven by playwright-core). Run by tests/browser.rs against
// the fake daemon; point it at a real daemon with the environment:
//
//   PARVIS_URL            https://host:port of the admin UI (required)
//   PARVIS_PASSWORD       the admin password (required)
//   PARVIS_CONNECT        host:port to open a connection to, which must then
//                         show in the live table (optional)
//   PARVIS_CONNECT_SNI    with PARVIS_CONNECT: open a TLS connection with
//                         this SNI instead of sending a plain line
//   PARVIS_EXPECT_CONN    instead of PARVIS_CONNECT: text (e.g. a host name) of a
//                         connection the caller holds open, to wait for in the live table
//   PARVIS_EXPECT_NAME    the appliance name the dashboard must show (optional)
//   PARVIS_SCREENSHOTS    folder for the screenshots (default target/screenshots)
//   PARVIS_LANG           en (default) or fr: the browser's Accept-Language, and
//                         the language the texts are checked in; at the end the
//                         header's switch goes to the other one and must stick
//   PARVIS_EXPECT_LOG     a host name of a finished connection, to find and
//                         filter on the log page (optional)
//   PARVIS_DRAIN          drain and undrain the first server on the routes page
//                         and see the API report it (optional, real daemon)
//   CHROMIUM              the browser (default /usr/bin/chromium)
//
// Exits 0 when every step passed, 1 otherwise (the failing step is printed).
import { chromium } from "playwright-core";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import net from "node:net";
import tls from "node:tls";

const URL_BASE = need("PARVIS_URL").replace(/\/$/, "");
const PASSWORD = need("PARVIS_PASSWORD");
const SHOTS = process.env.PARVIS_SCREENSHOTS || "target/screenshots";
const EXE = process.env.CHROMIUM || "/usr/bin/chromium";
const LANG = process.env.PARVIS_LANG || "en";
const OTHER = LANG === "fr" ? "en" : "fr";

// What each language must show (a few texts per step, not the catalogue).
const TEXT = {
  en: { wrong: "Wrong username", dashboard: "Dashboard", routesNav: "Routes & backends", valid: "valid",
    line: "line 2", applied: "Applied as version", confirmed: "Confirmed", running: "running",
    noMatch: "no connection matches", drained: "drained", drain: "Drain", undrain: "Undrain",
    logTitle: "Connection log", noLog: "no connection matches", added: "added.example.org",
    months: ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"],
    logout: "Log out", switchTo: "Français", badTo: "is not ADDRESS or ADDRESS:PORT" },
  fr: { wrong: "Identifiant ou mot de passe incorrect", dashboard: "Tableau de bord", routesNav: "Routes et backends",
    valid: "valide", line: "ligne 2", applied: "Appliquée comme version", confirmed: "Confirmée",
    running: "en service", noMatch: "aucune connexion ne correspond", drained: "drainé", drain: "Drainer",
    undrain: "Remettre en service", logTitle: "Journal des connexions", noLog: "aucune connexion ne correspond",
    added: "ajoutee.example.org",
    months: ["janv.", "févr.", "mars", "avr.", "mai", "juin", "juil.", "août", "sept.", "oct.", "nov.", "déc."],
    logout: "Se déconnecter", switchTo: "English", badTo: "n’est pas de la forme ADRESSE ou ADRESSE:PORT" },
}[LANG];
if (!TEXT) { console.error(`PARVIS_LANG must be en or fr, not ${LANG}`); process.exit(2); }

function need(name) {
  const v = process.env[name];
  if (!v) { console.error(`set ${name}`); process.exit(2); }
  return v;
}

let step = "start";
function check(cond, what) {
  if (!cond) throw new Error(`${step}: ${what}`);
  console.log(`  ok  ${step}: ${what}`);
}

async function shot(page, name) {
  const path = join(SHOTS, name + ".png");
  await page.screenshot({ path, fullPage: true });
  console.log(`  screenshot ${path}`);
}

function openConnection(target, sni) {
  const [host, port] = [target.slice(0, target.lastIndexOf(":")), +target.slice(target.lastIndexOf(":") + 1)];
  return new Promise((resolve, reject) => {
    const s = sni
      ? tls.connect({ host, port, servername: sni, rejectUnauthorized: false }, () => resolve(s))
      : net.connect({ host, port }, () => { s.write("browser-test.example.org\n"); resolve(s); });
    s.on("error", reject);
  });
}

async function main() {
  mkdirSync(SHOTS, { recursive: true });
  const profile = mkdtempSync(join(tmpdir(), "parvis-chromium-"));
  // A fresh profile folder each run (Playwright passes it as --user-data-dir).
  const ctx = await chromium.launchPersistentContext(profile, {
    executablePath: EXE,
    headless: true,
    args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
      "--disable-background-networking", "--disable-component-update", "--disable-sync",
      "--ignore-certificate-errors"],
    ignoreHTTPSErrors: true,
    viewport: { width: 1280, height: 900 },
    locale: LANG === "fr" ? "fr-FR" : "en-US",
  });
  let conn = null;
  try {
    const page = ctx.pages()[0] || await ctx.newPage();
    const jsErrors = [];
    page.on("pageerror", e => jsErrors.push(String(e)));
    page.setDefaultTimeout(15000);

    step = "login";
    await page.goto(URL_BASE + "/");
    check(page.url().endsWith("/login"), "an anonymous visit lands on the login page");
    await page.fill("#password", "definitely wrong");
    await page.click("button[type=submit]");
    await page.waitForSelector("#login-error");
    check((await page.textContent("#login-error")).includes(TEXT.wrong), "a wrong password is refused");
    check(await page.getAttribute("html", "lang") === LANG, `the login page is in ${LANG} (Accept-Language)`);
    await shot(page, "01-login");
    await page.fill("#password", PASSWORD);
    await page.click("button[type=submit]");
    await page.waitForSelector("#appliance-name");
    check(!page.url().includes("/login"), "the right password opens the dashboard");
    check((await page.textContent("h1")).trim() === TEXT.dashboard, `the dashboard's title is « ${TEXT.dashboard} »`);
    check((await page.textContent("header .logout button")).trim() === TEXT.logout, "the header speaks the language");

    step = "dashboard";
    const name = (await page.textContent("#appliance-name")).trim();
    check(name.length > 0 && (!process.env.PARVIS_EXPECT_NAME || name === process.env.PARVIS_EXPECT_NAME),
      `the appliance name is shown (${name})`);
    check(await page.locator("#ports tbody tr").count() >= 1, "the ports table has rows");
    check(await navFits(page), "every tab of the navigation is visible at 1280 px");
    await page.waitForSelector("#chart path");
    check(await page.locator("#chart path").count() === 2, "the chart draws rate and active lines");
    // The chart's span is in seconds under a minute ("last 0 min" was shown),
    // a single unit in the singular ("sur les 1 dernières minutes" was shown).
    const span = (await page.textContent("#chart-span")).trim();
    check(span.length > 0 && !/\b0 min/.test(span) && !/\bles 1 /.test(span), `the chart's span reads well (${span})`);
    check((await page.textContent("#fingerprint")).split(":").length === 32, "the certificate fingerprint is shown");
    await shot(page, "02-dashboard");

    step = "routes";
    await page.click(`nav >> text=${TEXT.routesNav}`);
    await page.waitForSelector("#routes");
    const routes = await page.evaluate(async () => (await fetch("/api/v1/routes")).json());
    check(routes.length >= 1, "the API answers within the session");
    await shot(page, "03-routes");

    step = "config check";
    await page.goto(URL_BASE + "/config");
    await page.waitForFunction(v => document.getElementById("check-status").textContent === v, TEXT.valid);
    check(true, `the running config checks « ${TEXT.valid} »`);
    const original = await page.inputValue("#editor");
    const lines = original.split("\n");
    const broken = [lines[0], "this is = = not toml", ...lines.slice(1)].join("\n");
    await page.fill("#editor", broken);
    await page.waitForSelector("#problems li.problem");
    const problem = await page.textContent("#problems li.problem");
    check(problem.startsWith(TEXT.line), `the error points at line 2 (${problem})`);
    check((await page.textContent("#gutter .err")) === "2", "the gutter marks line 2");
    await page.click("#problems li.problem");
    check(await page.evaluate(() => {
      const ed = document.getElementById("editor");
      return ed.value.slice(ed.selectionStart, ed.selectionEnd);
    }) === "this is = = not toml", "clicking the problem selects line 2 in the editor");
    await shot(page, "04-config-error");
    // A checker problem in the page's language, naming its key path as written.
    const n = (original.match(/^\[\[forward\]\]/gm) || []).length;
    const path = `forward[${n}].to`;
    await page.fill("#editor", `${original.replace(/\n*$/, "\n")}\n[[forward]]\nport = 2222\nto = "not an address"\n`);
    await page.waitForFunction(p => [...document.querySelectorAll("#problems li.problem")].some(li => li.textContent.includes(p)), path);
    const said = (await page.locator("#problems li.problem", { hasText: path }).first().textContent());
    check(said.includes(path + (LANG === "fr" ? "\u00a0: " : ": ") + '"not an address" ' + TEXT.badTo),
      `the problem at ${path} is in ${LANG} with its key path (${said})`);
    await shot(page, "04b-config-problem");

    step = "config apply";
    const r0 = routes[0];
    const added = `${original.replace(/\n*$/, "\n")}\n[[route]]\nlistener = "${r0.listener}"\nhosts = ["${TEXT.added}"]\nbackend = "${r0.backend}"\n`;
    await page.fill("#editor", added);
    await page.waitForFunction(v => document.getElementById("check-status").textContent === v, TEXT.valid);
    await page.click("#diff-btn");
    await page.waitForSelector("#diff:not(.hidden)");
    check((await page.textContent("#diff")).includes(`+hosts = ["${TEXT.added}"]`), "the diff shows the new route");
    await page.fill("#comment", "browser test: add a route");
    await page.fill("#confirm-within", "120");
    await page.click("#apply-btn");
    await page.waitForSelector("#result-message");
    const applied = await page.textContent("#result-message");
    check(applied.includes(TEXT.applied), `apply answered: ${applied}`);
    await page.waitForSelector("#pending:not(.hidden)");
    const c1 = +(await page.textContent("#countdown"));
    await page.waitForTimeout(1500);
    const c2 = +(await page.textContent("#countdown"));
    check(c1 > 0 && c2 < c1, `the roll-back countdown runs (${c1} → ${c2})`);
    await shot(page, "05-config-pending");
    await page.click("#confirm-btn");
    await page.waitForFunction(c => (document.getElementById("result-message") || {}).textContent?.startsWith(c), TEXT.confirmed);
    check(true, "confirm answered");
    await page.waitForLoadState("load");
    await page.goto(URL_BASE + "/config");
    const newest = await page.textContent("#history tbody tr:first-child");
    check(newest.includes(TEXT.running), "the new version is running in history");
    const when = (await page.textContent("#history tbody tr:first-child td:nth-child(2)")).trim();
    check(TEXT.months.some(m => when.split(" ").includes(m)) && when.endsWith(" UTC"), `the date is written in ${LANG} (${when})`);
    await page.click("#history tbody tr:first-child [data-diff]");
    await page.waitForSelector("#history-diff:not(.hidden)");
    check((await page.textContent("#history-diff")).includes(TEXT.added), "the history shows the diff");
    await shot(page, "06-config-history");
    await page.goto(URL_BASE + "/routes");
    check((await page.textContent("#routes")).includes(TEXT.added), "the new route is listed");

    if (process.env.PARVIS_DRAIN) await drainStep(page);

    if (process.env.PARVIS_EXPECT_CONN) {
      // A connection the caller holds open through the appliance: its row
      // must appear in the live table without a reload.
      step = "live connections";
      await page.goto(URL_BASE + "/connections");
      const want = process.env.PARVIS_EXPECT_CONN;
      await page.waitForFunction(w => (document.querySelector("#conns tbody")?.textContent || "").includes(w),
        want, { timeout: 10000 });
      check(true, `a live connection to ${want} appeared without a reload`);
      await shot(page, "07-connections");
    } else if (process.env.PARVIS_CONNECT) {
      step = "live connections";
      await page.goto(URL_BASE + "/connections");
      await page.waitForSelector("#conn-updated:not(:empty)");
      conn = await openConnection(process.env.PARVIS_CONNECT, process.env.PARVIS_CONNECT_SNI);
      const port = String(conn.localPort);
      await page.waitForFunction(p => [...document.querySelectorAll("#conns tbody td:first-child")]
        .some(td => td.textContent.endsWith(":" + p)), port, { timeout: 10000 });
      check(true, `our connection (local port ${port}) appeared without a reload`);
      await page.fill("#conn-filter", ":" + port);
      await page.waitForTimeout(300);
      check(await page.locator("#conns tbody tr:not(.empty)").count() === 1, "the filter keeps our row");
      await shot(page, "07-connections");
      await page.fill("#conn-filter", "no-such-thing-zzz");
      await page.waitForTimeout(300);
      check((await page.textContent("#conns tbody")).includes(TEXT.noMatch), "the filter hides the others");
    }

    step = "bans";
    await page.goto(URL_BASE + "/access");
    await page.fill("#ban-addr", "203.0.113.77");
    await page.fill("#ban-minutes", "5");
    await page.click("#ban-form button");
    await page.waitForSelector("#bans");
    check((await page.textContent("#bans")).includes("203.0.113.77"), "a ban added by hand is listed");
    await shot(page, "08-access");
    await page.click("#bans tr:has-text('203.0.113.77') button");
    await page.waitForSelector("#bans");
    check(!(await page.textContent("#bans")).includes("203.0.113.77"), "the ban is lifted");

    step = "firewall and log";
    await page.goto(URL_BASE + "/firewall");
    check((await page.textContent("#ruleset")).includes("table inet parvis"), "the ruleset is shown");
    await shot(page, "09-firewall");
    await page.goto(URL_BASE + "/log");
    check((await page.textContent("#events")).length > 0, "the log lists events");
    check((await page.textContent("h2")).includes(TEXT.logTitle), "the log page starts with the connection log");
    if (process.env.PARVIS_EXPECT_LOG) await logStep(page, process.env.PARVIS_EXPECT_LOG);
    await shot(page, "10-log");
    await screens(page);

    step = "language switch";
    await page.click("#lang-switch");
    await page.waitForFunction(o => document.documentElement.lang === o, OTHER);
    check(true, `the header's switch turns the page into ${OTHER}`);
    await page.goto(URL_BASE + "/routes");
    check(await page.getAttribute("html", "lang") === OTHER, "the choice is remembered on the next page (cookie)");
    await shot(page, "11-switched");

    step = "logout";
    await page.click("header form.logout button");
    await page.waitForSelector("#login-form");
    check(await page.getAttribute("html", "lang") === OTHER, "the login page keeps the chosen language");
    await page.goto(URL_BASE + "/config");
    check(page.url().endsWith("/login"), "after logout the pages need a login again");
    check(jsErrors.length === 0, `no JavaScript errors (${jsErrors.join("; ")})`);
    console.log("browser test passed");
  } finally {
    if (conn) conn.destroy();
    await ctx.close();
    rmSync(profile, { recursive: true, force: true });
  }
}

// Drains the first server of the routes page and undrains it, through the
// page's buttons; the API must report each state.
async function drainStep(page) {
  step = "drain";
  await page.goto(URL_BASE + "/routes");
  const form = page.locator("form.drain").first();
  const backend = await form.locator("input[name=backend]").getAttribute("value");
  const server = await form.locator("input[name=server]").getAttribute("value");
  check((await form.textContent()).trim() === TEXT.drain, `the button says « ${TEXT.drain} »`);
  await form.locator("button").click();
  await page.waitForLoadState("load");
  const row = page.locator(`tr:has(input[name=server][value="${server}"])`).first();
  check((await row.textContent()).includes(TEXT.drained), `${backend} ${server} shows « ${TEXT.drained} »`);
  const state = async () => (await page.evaluate(async () => (await fetch("/api/v1/backends")).json()))
    .find(b => b.name === backend).servers.find(s => s.addr === server).drained;
  check(await state() === true, "the daemon reports the server drained");
  await shot(page, "03b-drained");
  check((await row.locator("button").textContent()).trim() === TEXT.undrain, `the button now says « ${TEXT.undrain} »`);
  await row.locator("button").click();
  await page.waitForLoadState("load");
  check(await state() === false, "undrained again");
}

// The connection log: the finished connection to `host` is listed, the host
// filter keeps it, the end-reason filter keeps its reason, a host that never
// came finds nothing.
async function logStep(page, host) {
  step = "connection log";
  check((await page.textContent("#connlog tbody")).includes(host), `a finished connection to ${host} is listed`);
  await page.fill("#log-host", host);
  await page.click("#log-filter button[type=submit]");
  await page.waitForLoadState("load");
  const hosts = await page.locator("#connlog tbody tr:not(.empty) td:nth-child(4)").allTextContents();
  check(hosts.length >= 1 && hosts.every(h => h.includes(host)), `the host filter keeps only ${host} (${hosts.length} rows)`);
  const end = await page.locator("#connlog tbody [data-end]").first().getAttribute("data-end");
  await page.selectOption("#log-end", end);
  await page.click("#log-filter button[type=submit]");
  await page.waitForLoadState("load");
  const ends = await page.locator("#connlog tbody [data-end]").evaluateAll(els => els.map(e => e.dataset.end));
  check(ends.length >= 1 && ends.every(e => e === end), `the end filter keeps « ${end} » only`);
  check(page.url().includes("end=" + end), "the filter is in the address (a link can be shared)");
  await page.fill("#log-host", "never-seen.example.org");
  await page.click("#log-filter button[type=submit]");
  await page.waitForLoadState("load");
  check((await page.textContent("#connlog tbody")).includes(TEXT.noLog), `an unknown host finds nothing (« ${TEXT.noLog} »)`);
  await page.goto(URL_BASE + "/log");
}

// The header's tabs are not cut off (the nav scrolls when they do not fit).
async function navFits(page) {
  return page.evaluate(() => { const n = document.querySelector("header nav"); return n.scrollWidth <= n.clientWidth + 1; });
}

// Every page on a phone and on a wide screen, for a person to look at; the
// page must not scroll sideways on the phone.
async function screens(page) {
  step = "screen sizes";
  for (const [label, size] of [["phone", { width: 390, height: 844 }], ["wide", { width: 1920, height: 1080 }]]) {
    await page.setViewportSize(size);
    for (const path of ["/", "/routes", "/access", "/connections", "/firewall", "/config", "/log", "/tokens"]) {
      await page.goto(URL_BASE + path);
      const [wide, culprits] = await page.evaluate(() => {
        const w = window.innerWidth;
        const out = [...document.querySelectorAll("body *")]
          .filter(e => e.getBoundingClientRect().right > w + 1 && !e.closest("section, nav, pre, .editor"))
          .slice(0, 4).map(e => e.tagName.toLowerCase() + (e.id ? "#" + e.id : "") + (e.className ? "." + e.className : ""));
        return [document.documentElement.scrollWidth - w, out.join(" ")];
      });
      await shot(page, `${label}${path === "/" ? "-dashboard" : path.replace("/", "-")}`);
      if (label === "phone") check(wide <= 1, `${path} fits a phone's width (overflow ${wide}px ${culprits})`);
      if (label === "phone" && path === "/routes") {
        // Each server's drain button is in view, not scrolled off to the
        // side inside its table's box.
        const off = await page.evaluate(() => [...document.querySelectorAll("form.drain button")]
          .map(b => Math.round(b.getBoundingClientRect().right - b.closest(".scroll").getBoundingClientRect().right)));
        check(off.length > 0 && off.every(o => o <= 0), `the drain buttons fit a phone (${off.join(" ")})`);
      }
      if (label === "wide" && path === "/") check(await navFits(page), "every tab of the navigation is visible");
    }
  }
  await page.setViewportSize({ width: 1280, height: 900 });
}

main().catch(e => { console.error(`FAILED ${e.message}`); process.exit(1); });
