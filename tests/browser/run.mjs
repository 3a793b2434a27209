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
//   PARVIS_EXPECT_NAME    the appliance name the dashboard must show (optional)
//   PARVIS_SCREENSHOTS    folder for the screenshots (default target/screenshots)
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
    check((await page.textContent("#login-error")).includes("Wrong"), "a wrong password is refused");
    await shot(page, "01-login");
    await page.fill("#password", PASSWORD);
    await page.click("button[type=submit]");
    await page.waitForSelector("#appliance-name");
    check(!page.url().includes("/login"), "the right password opens the dashboard");

    step = "dashboard";
    const name = (await page.textContent("#appliance-name")).trim();
    check(name.length > 0 && (!process.env.PARVIS_EXPECT_NAME || name === process.env.PARVIS_EXPECT_NAME),
      `the appliance name is shown (${name})`);
    check(await page.locator("#ports tbody tr").count() >= 1, "the ports table has rows");
    await page.waitForSelector("#chart path");
    check(await page.locator("#chart path").count() === 2, "the chart draws rate and active lines");
    check((await page.textContent("#fingerprint")).split(":").length === 32, "the certificate fingerprint is shown");
    await shot(page, "02-dashboard");

    step = "routes";
    await page.click("nav >> text=Routes & backends");
    await page.waitForSelector("#routes");
    const routes = await page.evaluate(async () => (await fetch("/api/v1/routes")).json());
    check(routes.length >= 1, "the API answers within the session");
    await shot(page, "03-routes");

    step = "config check";
    await page.goto(URL_BASE + "/config");
    await page.waitForFunction(() => document.getElementById("check-status").textContent === "valid");
    check(true, "the running config checks valid");
    const original = await page.inputValue("#editor");
    const lines = original.split("\n");
    const broken = [lines[0], "this is = = not toml", ...lines.slice(1)].join("\n");
    await page.fill("#editor", broken);
    await page.waitForSelector("#problems li");
    const problem = await page.textContent("#problems li");
    check(problem.startsWith("line 2"), `the error points at line 2 (${problem})`);
    check((await page.textContent("#gutter .err")) === "2", "the gutter marks line 2");
    await page.click("#problems li");
    check(await page.evaluate(() => {
      const ed = document.getElementById("editor");
      return ed.value.slice(ed.selectionStart, ed.selectionEnd);
    }) === "this is = = not toml", "clicking the problem selects line 2 in the editor");
    await shot(page, "04-config-error");

    step = "config apply";
    const r0 = routes[0];
    const added = `${original.replace(/\n*$/, "\n")}\n[[route]]\nlistener = "${r0.listener}"\nhosts = ["added.example.org"]\nbackend = "${r0.backend}"\n`;
    await page.fill("#editor", added);
    await page.waitForFunction(() => document.getElementById("check-status").textContent === "valid");
    await page.click("#diff-btn");
    await page.waitForSelector("#diff:not(.hidden)");
    check((await page.textContent("#diff")).includes('+hosts = ["added.example.org"]'), "the diff shows the new route");
    await page.fill("#comment", "browser test: add a route");
    await page.fill("#confirm-within", "120");
    await page.click("#apply-btn");
    await page.waitForSelector("#result-message");
    const applied = await page.textContent("#result-message");
    check(applied.includes("Applied as version"), `apply answered: ${applied}`);
    await page.waitForSelector("#pending:not(.hidden)");
    const c1 = +(await page.textContent("#countdown"));
    await page.waitForTimeout(1500);
    const c2 = +(await page.textContent("#countdown"));
    check(c1 > 0 && c2 < c1, `the roll-back countdown runs (${c1} → ${c2})`);
    await shot(page, "05-config-pending");
    await page.click("#confirm-btn");
    await page.waitForFunction(() => (document.getElementById("result-message") || {}).textContent?.startsWith("Confirmed"));
    check(true, "confirm answered");
    await page.waitForLoadState("load");
    await page.goto(URL_BASE + "/config");
    check((await page.textContent("#history tbody tr:first-child")).includes("running"), "the new version is running in history");
    await page.click("#history tbody tr:first-child [data-diff]");
    await page.waitForSelector("#history-diff:not(.hidden)");
    check((await page.textContent("#history-diff")).includes("added.example.org"), "the history shows the diff");
    await shot(page, "06-config-history");
    await page.goto(URL_BASE + "/routes");
    check((await page.textContent("#routes")).includes("added.example.org"), "the new route is listed");

    if (process.env.PARVIS_CONNECT) {
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
      check((await page.textContent("#conns tbody")).includes("no connection matches"), "the filter hides the others");
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
    await shot(page, "10-log");

    step = "logout";
    await page.click("header form.logout button");
    await page.waitForSelector("#login-form");
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

main().catch(e => { console.error(`FAILED ${e.message}`); process.exit(1); });
