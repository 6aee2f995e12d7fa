// Drives headless Chromium (playwright-core) through what a single-page app
// on another origin does with roster: upload a file, follow the import with
// EventSource (authenticated by an events token) to its end, download the
// error CSV and read its file name. Prints one JSON line: what the page saw.
//
//   node follow_import.cjs '{"page": URL, "api": URL, "token": TOKEN, "csv": TEXT}'
// with ROSTER_PLAYWRIGHT_CORE naming the playwright-core package directory
// and ROSTER_CHROMIUM the browser.
const { chromium } = require(process.env.ROSTER_PLAYWRIGHT_CORE);

async function main() {
  const args = JSON.parse(process.argv[2]);
  const browser = await chromium.launch({
    executablePath: process.env.ROSTER_CHROMIUM || '/usr/bin/chromium',
    args: ['--no-sandbox', '--headless=new'],
  });
  try {
    const page = await browser.newPage();
    await page.goto(args.page);
    const seen = await page.evaluate(async ({ api, token, csv }) => {
      const auth = { Authorization: `Bearer ${token}` };
      const form = new FormData();
      form.append('role', 'la_user');
      form.append('file', new Blob([csv], { type: 'text/csv' }), 'staff.csv');
      const uploaded = await fetch(`${api}/v1/imports`, { method: 'POST', headers: auth, body: form });
      const imp = await uploaded.json();
      const grant = await fetch(`${api}/v1/imports/${imp.id}/events-token`, { method: 'POST', headers: auth });
      const { events_url } = await grant.json();
      const events = await new Promise((resolve, reject) => {
        const source = new EventSource(api + events_url);
        const progress = [];
        const timer = setTimeout(() => { source.close(); reject(new Error('no final event in 60 s')); }, 60000);
        source.addEventListener('progress', (e) => progress.push(JSON.parse(e.data).state));
        source.addEventListener('state', (e) => {
          clearTimeout(timer);
          source.close();
          resolve({ progress, final: JSON.parse(e.data) });
        });
        source.onerror = () => {
          if (source.readyState === EventSource.CLOSED) {
            clearTimeout(timer);
            reject(new Error('the event stream was refused'));
          }
        };
      });
      const errors = await fetch(`${api}/v1/imports/${imp.id}/errors.csv`, { headers: auth });
      return {
        upload_status: uploaded.status,
        location: uploaded.headers.get('Location'),
        id: imp.id,
        events,
        csv_status: errors.status,
        content_disposition: errors.headers.get('Content-Disposition'),
        csv: await errors.text(),
        origin: location.origin,
      };
    }, args);
    console.log(JSON.stringify(seen));
  } finally {
    await browser.close();
  }
}

main().catch((e) => {
  console.error(e && e.stack ? e.stack : String(e));
  process.exit(1);
});
