// Drives headless Chromium (playwright-core) through the admins' page at
// /admin/ as an admin would: sign in (a wrong token first), choose a role,
// download its template, choose a file, run a dry run, commit it, download
// the error CSV, find the import in the history and sign out; then, in a
// 360x740 window, sign in by keyboard, paste a CSV, check it and cancel.
// Saves a screenshot of each state and prints one JSON line: what it saw.
//
//   node admin_page.cjs '{"base": URL, "token": TOKEN, "csv_path": PATH,
//                         "paste_csv": TEXT, "screenshots": DIR}'
// with ROSTER_PLAYWRIGHT_CORE naming the playwright-core package directory
// and ROSTER_CHROMIUM the browser.
const fs = require('fs');
const path = require('path');
const { chromium } = require(process.env.ROSTER_PLAYWRIGHT_CORE);

const SETTLED = ['validated', 'held', 'completed', 'completed_with_errors', 'failed', 'cancelled'];
const FINAL = ['completed', 'completed_with_errors', 'failed', 'cancelled'];

// Listens for what must not happen on the page: console errors (CSP
// refusals among them), uncaught exceptions, and CSP violation events.
async function watch(context, seen) {
  // Init scripts run through the DevTools protocol, which the page's CSP
  // does not govern.
  await context.addInitScript(() => {
    window.__cspViolations = [];
    document.addEventListener('securitypolicyviolation', (e) => {
      window.__cspViolations.push(`${e.violatedDirective} ${e.blockedURI}`);
    });
  });
  context.on('page', (page) => {
    page.on('console', (msg) => {
      if (msg.type() !== 'error') return;
      // Chromium logs every 4xx it loads: the ones a step asks for are expected.
      if (seen.expectStatus && msg.text().includes(`status of ${seen.expectStatus}`)) return;
      seen.console_errors.push(msg.text());
    });
    page.on('pageerror', (err) => seen.page_errors.push(String(err)));
  });
}

async function cspViolations(page) {
  return page.evaluate(() => window.__cspViolations);
}

function shooter(dir) {
  fs.mkdirSync(dir, { recursive: true });
  const saved = [];
  const shot = async (page, name, fullPage = true) => {
    const file = path.join(dir, `${name}.png`);
    await page.screenshot({ path: file, fullPage });
    saved.push(file);
  };
  return { saved, shot };
}

async function waitState(page, states, timeout = 60000) {
  await page.waitForFunction(
    (want) => want.includes(document.querySelector('#run-state').dataset.state),
    states,
    { timeout },
  );
  return page.$eval('#run-state', (e) => e.dataset.state);
}

async function counts(page) {
  return page.evaluate(() => {
    const out = {};
    for (const k of ['created', 'updated', 'unchanged', 'failed', 'warnings']) {
      out[k] = Number(document.querySelector(`#count-${k}`).textContent);
    }
    return out;
  });
}

async function errorRows(page) {
  await page.waitForSelector('[data-testid="error-row"]');
  return page.$$eval('[data-testid="error-row"]', (rows) =>
    rows.map((tr) => {
      const [line, row, severity, field, code, message] = [...tr.cells].map((c) => c.textContent);
      return { line: Number(line), row: Number(row), severity, field, code, message };
    }));
}

async function download(page, button) {
  const [dl] = await Promise.all([page.waitForEvent('download'), page.click(button)]);
  const file = await dl.path();
  return { filename: dl.suggestedFilename(), text: fs.readFileSync(file, 'utf8') };
}

// Presses Tab until the element with this id has focus; returns how many
// presses it took, or -1.
async function tabTo(page, id, most = 30) {
  for (let i = 1; i <= most; i++) {
    await page.keyboard.press('Tab');
    if (await page.evaluate((want) => document.activeElement && document.activeElement.id === want, id)) return i;
  }
  return -1;
}

async function overflows(page) {
  return page.evaluate(() => document.documentElement.scrollWidth > window.innerWidth);
}

async function desktop(browser, args, seen, shot) {
  const context = await browser.newContext({ viewport: { width: 1100, height: 900 }, acceptDownloads: true });
  await watch(context, seen);
  const page = await context.newPage();
  const out = {};

  const resp = await page.goto(`${args.base}/admin/`);
  out.csp = resp.headers()['content-security-policy'];
  await page.waitForSelector('#signin:not([hidden])');
  out.signin_visible = await page.isVisible('#token');
  await shot(page, '01-signed-out');

  // A wrong token: the problem's detail is shown and nothing is kept.
  seen.expectStatus = 401;
  await page.fill('#token', 'not-a-token');
  await page.click('#sign-in');
  await page.waitForFunction(() => document.querySelector('#error').textContent !== '');
  out.bad_token_error = await page.textContent('#error');
  out.bad_token_stored = await page.evaluate(() => sessionStorage.length + localStorage.length);
  seen.expectStatus = null;

  await page.fill('#token', args.token);
  await page.click('#sign-in');
  await page.waitForSelector('#workspace:not([hidden])');
  out.roles = await page.$$eval('#role option', (os) => os.map((o) => ({ key: o.value, name: o.textContent })));
  out.token_in_session = await page.evaluate(() => Object.values(sessionStorage).length === 1);
  out.local_storage = await page.evaluate(() => localStorage.length);
  out.token_field_cleared = (await page.inputValue('#token')) === '';
  await page.waitForSelector('#history-empty:not([hidden])'); // a new account has no imports
  await shot(page, '02-signed-in');

  await page.selectOption('#role', { label: 'Designated Teacher' });
  out.role_value = await page.inputValue('#role');
  const template = await download(page, '#download-template');
  out.template = { filename: template.filename, header: template.text.replace(/^\uFEFF/, '').split(/\r?\n/)[0] };

  await page.setInputFiles('#file', args.csv_path);
  await page.waitForSelector('#file-chosen:not([hidden])');
  out.file_chosen = await page.textContent('#file-name');
  await shot(page, '03-file-chosen');

  await page.click('#dry-run');
  out.dry_run_state = await waitState(page, SETTLED);
  out.dry_run_heading = await page.textContent('#run-heading');
  out.dry_run_counts = await counts(page);
  out.dry_run_errors = await errorRows(page);
  out.dry_run_buttons = await page.evaluate(() =>
    ['commit', 'cancel', 'start-again'].filter((id) => !document.getElementById(id).hidden));
  out.import_id = await page.getAttribute('#run', 'data-import-id');
  await shot(page, '04-dry-run-validated');

  await page.click('#commit');
  out.final_state = await waitState(page, FINAL);
  out.final_heading = await page.textContent('#run-heading');
  out.final_counts = await counts(page);
  out.final_errors = await errorRows(page);
  out.status = await page.textContent('#status');
  await shot(page, '05-import-completed');

  const errors = await download(page, '#download-errors');
  out.error_csv = { filename: errors.filename, first_line: errors.text.replace(/^\uFEFF/, '').split(/\r?\n/)[0] };

  // The history lists it (the page refreshes it when an import ends);
  // choosing it again after "Start again" shows its counts and errors.
  await page.click('#start-again');
  out.run_hidden_after_start_again = await page.isHidden('#run');
  await page.click('#history-refresh');
  await page.waitForSelector('[data-testid="history-row"]');
  out.history = await page.$$eval('[data-testid="history-row"]', (rows) =>
    rows.map((tr) => ({ id: tr.dataset.id, file: tr.cells[1].textContent, state: tr.querySelector('.state').dataset.state })));
  const row = `[data-testid="history-row"][data-id="${out.history[0].id}"]`;
  await page.click(`${row} button`);
  out.history_selected_state = await waitState(page, SETTLED);
  out.history_selected_counts = await counts(page);
  out.history_selected_errors = (await errorRows(page)).length;
  await shot(page, '06-history');

  out.csp_violations = await cspViolations(page);
  await page.click('#sign-out');
  await page.waitForSelector('#signin:not([hidden])');
  out.storage_after_sign_out = await page.evaluate(() => sessionStorage.length + localStorage.length);
  await context.close();
  return out;
}

async function narrow(browser, args, seen, shot) {
  const context = await browser.newContext({ viewport: { width: 360, height: 740 } });
  await watch(context, seen);
  const page = await context.newPage();
  const out = {};

  await page.goto(`${args.base}/admin/`);
  await page.waitForSelector('#signin:not([hidden])');
  out.overflow_signed_out = await overflows(page);
  await shot(page, '07-narrow-signed-out');

  // Keyboard only: Tab to the token, type it, Tab to the button, Enter.
  out.tabs_to_token = await tabTo(page, 'token');
  await page.keyboard.type(args.token);
  out.tabs_to_sign_in = await tabTo(page, 'sign-in', 3);
  await page.keyboard.press('Enter');
  await page.waitForSelector('#workspace:not([hidden])');
  await page.waitForSelector('[data-testid="history-row"]');

  // Every control of a new import is reachable by Tab, in order.
  const order = [];
  await page.evaluate(() => document.activeElement && document.activeElement.blur());
  await page.focus('#role');
  order.push('role');
  for (let i = 0; i < 20; i++) {
    await page.keyboard.press('Tab');
    const id = await page.evaluate(() => document.activeElement.id);
    order.push(id);
    if (id === 'dry-run') break;
  }
  out.tab_order = order;
  out.overflow_signed_in = await overflows(page);
  await shot(page, '08-narrow-signed-in');

  // Pasted text without the columns the role needs: the problem's detail
  // and the missing columns are shown.
  await page.selectOption('#role', 'designated_teacher');
  await page.fill('#paste', 'Colour,Size\nred,10\n');
  seen.expectStatus = 422;
  await page.click('#dry-run');
  await page.waitForFunction(() => document.querySelector('#error').textContent !== '');
  seen.expectStatus = null;
  out.missing_error = await page.textContent('#error');
  out.missing_items = await page.$$eval('#error-list li', (lis) => lis.map((li) => li.textContent));

  // Pasted text, checked from the keyboard.
  await page.fill('#paste', '');
  await page.focus('#paste');
  await page.keyboard.insertText(args.paste_csv);
  await page.focus('#dry-run');
  await page.keyboard.press('Enter');
  out.paste_state = await waitState(page, SETTLED);
  out.paste_file = await page.textContent('#run-file');
  out.paste_counts = await counts(page);
  out.overflow_validated = await overflows(page);
  // The window only: the whole page is two pages of errors long.
  await page.$eval('#run', (e) => e.scrollIntoView());
  await shot(page, '09-narrow-dry-run', false);

  // Its errors take two pages.
  out.errors_page1 = (await errorRows(page)).map((e) => e.line);
  await page.click('#errors-next');
  await page.waitForFunction((first) => document.querySelector('[data-testid="error-row"] td').textContent !== first,
    String(out.errors_page1[0]));
  out.errors_page2 = (await errorRows(page)).map((e) => e.line);
  out.next_hidden_on_last_page = await page.isHidden('#errors-next');
  await page.click('#errors-first');
  await page.waitForFunction((first) => document.querySelector('[data-testid="error-row"] td').textContent === first,
    String(out.errors_page1[0]));

  await page.click('#cancel');
  out.cancelled_state = await waitState(page, ['cancelled']);
  out.csp_violations = await cspViolations(page);
  await context.close();
  return out;
}

async function main() {
  const args = JSON.parse(process.argv[2]);
  const browser = await chromium.launch({
    executablePath: process.env.ROSTER_CHROMIUM || '/usr/bin/chromium',
    args: ['--no-sandbox', '--headless=new'],
  });
  const seen = { console_errors: [], page_errors: [], expectStatus: null };
  const { saved, shot } = shooter(args.screenshots);
  try {
    const wide = await desktop(browser, args, seen, shot);
    const small = await narrow(browser, args, seen, shot);
    console.log(JSON.stringify({
      desktop: wide,
      narrow: small,
      console_errors: seen.console_errors,
      page_errors: seen.page_errors,
      screenshots: saved,
    }));
  } finally {
    await browser.close();
  }
}

main().catch((e) => {
  console.error(e && e.stack ? e.stack : String(e));
  process.exit(1);
});
