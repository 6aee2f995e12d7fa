// A small roster client on types generated from openapi/openapi.yaml and
// openapi-fetch: uploads a CSV, polls the import to its end, reads its
// error log as JSON and as CSV and its per-line results, and branches on a
// problem's code. Compiled
// with tsc --strict; it has no casts, so every type it uses is what the
// document says. Prints one JSON line of what it saw.
//   ROSTER_URL=... ROSTER_TOKEN=... node client.mjs FILE
import fs from 'node:fs';
import createClient from 'openapi-fetch';
import type { components, paths } from './roster.js';

type State = components['schemas']['State'];
type Issue = components['schemas']['ErrorPage']['items'][number];
type Result = components['schemas']['ResultItem'];

const FINAL: State[] = ['completed', 'completed_with_errors', 'failed', 'cancelled', 'validated', 'held'];

async function main(): Promise<void> {
  const client = createClient<paths>({
    baseUrl: process.env.ROSTER_URL ?? 'http://127.0.0.1:8080',
    headers: { Authorization: `Bearer ${process.env.ROSTER_TOKEN ?? ''}` },
  });
  const csv = fs.readFileSync(process.argv[2] ?? '');

  const uploaded = await client.POST('/v1/imports', {
    body: { file: new Blob([csv], { type: 'text/csv' }), role: 'la_user' },
    bodySerializer(body) {
      // The upload takes a raw CSV body too: that one goes as it is.
      if (typeof body === 'string') return body;
      const form = new FormData();
      form.append('file', body.file, 'staff.csv');
      if (body.role) form.append('role', body.role);
      return form;
    },
  });
  if (!uploaded.data) throw new Error(`upload refused: ${uploaded.error?.code ?? uploaded.response.status}`);
  const id: string = uploaded.data.id;

  let state: State = uploaded.data.state;
  let created = 0;
  for (let i = 0; i < 600 && !FINAL.includes(state); i++) {
    await new Promise((resolve) => setTimeout(resolve, 100));
    const polled = await client.GET('/v1/imports/{id}', { params: { path: { id } } });
    if (!polled.data) throw new Error(`poll failed: ${polled.error?.code ?? polled.response.status}`);
    state = polled.data.state;
    created = polled.data.counts.created;
  }

  const errors = await client.GET('/v1/imports/{id}/errors', { params: { path: { id }, query: { limit: 100 } } });
  if (!errors.data) throw new Error(`errors failed: ${errors.error?.code ?? errors.response.status}`);
  const issues: Issue[] = errors.data.items;

  const errorCsv = await client.GET('/v1/imports/{id}/errors.csv', { params: { path: { id } }, parseAs: 'text' });
  if (errorCsv.data === undefined) throw new Error(`errors.csv failed: ${errorCsv.response.status}`);

  // Every line's result, page by page.
  const resultPage = (cursor: string | null) =>
    client.GET('/v1/imports/{id}/results', {
      params: { path: { id }, query: cursor === null ? { limit: 1 } : { limit: 1, cursor } },
    });
  const results: Result[] = [];
  let cursor: string | null = null;
  do {
    const page = await resultPage(cursor);
    if (!page.data) throw new Error(`results failed: ${page.error?.code ?? page.response.status}`);
    results.push(...page.data.items);
    cursor = page.data.next_cursor;
  } while (cursor !== null);

  const missing = await client.GET('/v1/imports/{id}', {
    params: { path: { id: '00000000-0000-4000-8000-000000000000' } },
  });
  let problem = 'none';
  if (missing.error) {
    switch (missing.error.code) {
      case 'not_found':
        problem = 'not_found';
        break;
      default:
        problem = `unexpected ${missing.error.code}`;
    }
  }

  console.log(JSON.stringify({
    id,
    state,
    created,
    issues: issues.map((item) => [item.line, item.code]),
    csvHeader: errorCsv.data.split('\r\n')[0] ?? '',
    results: results.map((r) => [r.line, r.outcome, r.user_id === null ? null : typeof r.user_id]),
    problem,
  }));
}

main().catch((e: unknown) => {
  console.error(e instanceof Error ? e.stack : String(e));
  process.exit(1);
});
