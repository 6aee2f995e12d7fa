"use strict";
// The admins' page: sign in with an API token, check a file with a dry run,
// import it, follow it to its end, read its errors, see the account's
// imports. It is served under a strict Content-Security-Policy (its own
// script and style sheet, same-origin requests only), so it builds the DOM
// with textContent and classes: no inline code, no inline styles, no
// innerHTML with text that came from a file.
(() => {
  // sessionStorage, not localStorage: the token goes when the tab does.
  const TOKEN_KEY = "roster.token";
  const ERRORS_PER_PAGE = 50;
  const HISTORY_LIMIT = 20;
  // States an import does not leave by itself; its event stream then sends
  // `state` and ends.
  const SETTLED = new Set(["validated", "held", "completed", "completed_with_errors", "failed", "cancelled"]);
  const FINAL = new Set(["completed", "completed_with_errors", "failed", "cancelled"]);
  const CANCELLABLE = new Set(["queued", "processing", "validating", "validated", "held"]);
  const STATE_LABELS = {
    queued: "Queued",
    processing: "Importing",
    validating: "Checking",
    validated: "Checked",
    held: "Held",
    completed: "Completed",
    completed_with_errors: "Completed with errors",
    failed: "Failed",
    cancelled: "Cancelled",
  };
  const COUNTS = ["created", "updated", "unchanged", "failed", "warnings"];

  const $ = (id) => document.getElementById(id);
  const ui = {
    signOut: $("sign-out"),
    status: $("status"),
    error: $("error"),
    errorList: $("error-list"),
    signin: $("signin"),
    signinForm: $("signin-form"),
    token: $("token"),
    workspace: $("workspace"),
    importForm: $("import-form"),
    role: $("role"),
    downloadTemplate: $("download-template"),
    dropzone: $("dropzone"),
    file: $("file"),
    fileChosen: $("file-chosen"),
    fileName: $("file-name"),
    fileClear: $("file-clear"),
    paste: $("paste"),
    mode: $("mode"),
    invite: $("invite"),
    dryRun: $("dry-run"),
    run: $("run"),
    runHeading: $("run-heading"),
    runState: $("run-state"),
    runFile: $("run-file"),
    progress: $("progress"),
    runRows: $("run-rows"),
    runNote: $("run-note"),
    runError: $("run-error"),
    commit: $("commit"),
    cancel: $("cancel"),
    downloadErrors: $("download-errors"),
    startAgain: $("start-again"),
    errorsSummary: $("errors-summary"),
    errorsWrap: $("errors-wrap"),
    errorsBody: $("errors-body"),
    errorsFirst: $("errors-first"),
    errorsNext: $("errors-next"),
    historyRefresh: $("history-refresh"),
    historyWrap: $("history-wrap"),
    historyBody: $("history-body"),
    historyEmpty: $("history-empty"),
  };

  let token = null;
  let chosenFile = null; // a File from the input or a drop; pasted text is read when sent
  let current = null; // the import the run panel shows
  let stream = null; // its EventSource while it is followed
  // Bumped whenever the run panel changes import, so that answers and
  // events meant for the one before are dropped.
  let generation = 0;
  let errorsNextCursor = null;
  let historyGeneration = 0;

  // --- Talking to the API -------------------------------------------------

  // A problem document (application/problem+json) the API answered with.
  class ApiError extends Error {
    constructor(status, problem) {
      super(problem.detail || problem.title || `HTTP ${status}`);
      this.status = status;
      this.problem = problem;
    }
  }

  async function request(method, path, body) {
    const res = await fetch(path, {
      method,
      body,
      headers: { Authorization: `Bearer ${token}` },
      cache: "no-store",
    });
    if (!res.ok) {
      let problem;
      try {
        problem = await res.json();
      } catch {
        problem = { detail: `The server answered ${res.status} ${res.statusText}.` };
      }
      throw new ApiError(res.status, problem);
    }
    return res;
  }

  const getJson = async (path) => (await request("GET", path)).json();
  const postJson = async (path, body) => (await request("POST", path, body)).json();
  const importPath = (id, rest = "") => `/v1/imports/${encodeURIComponent(id)}${rest}`;

  // Saves a response as a file through a temporary <a download>, named as
  // its Content-Disposition says.
  async function saveDownload(res, fallbackName) {
    const disposition = res.headers.get("Content-Disposition") || "";
    const match = /filename="([^"]+)"/i.exec(disposition) || /filename=([^;\s]+)/i.exec(disposition);
    const name = match ? match[1] : fallbackName;
    const url = URL.createObjectURL(await res.blob());
    const a = document.createElement("a");
    a.href = url;
    a.download = name;
    a.hidden = true;
    document.body.append(a);
    a.click();
    a.remove();
    // The browser reads the blob after click() returns: revoke it later.
    setTimeout(() => URL.revokeObjectURL(url), 60000);
    return name;
  }

  // --- Messages -----------------------------------------------------------

  function say(text) {
    ui.error.textContent = "";
    ui.errorList.replaceChildren();
    ui.status.textContent = text;
  }

  function showError(text, items = []) {
    ui.status.textContent = "";
    ui.error.textContent = text;
    ui.errorList.replaceChildren(...items.map((t) => el("li", t)));
    // The message sits at the top; the button pressed may be far below it.
    ui.error.scrollIntoView({ block: "nearest" });
  }

  // Shows what went wrong; a token refused mid-session signs out.
  function fail(err) {
    if (!(err instanceof ApiError)) {
      showError(`Cannot reach roster: ${err.message}`);
      return;
    }
    if (err.status === 401 && token) signOut();
    const p = err.problem;
    const items = [];
    if (p.code === "missing_columns" && Array.isArray(p.missing)) {
      items.push(...p.missing.map((m) => `Missing column: ${m}`));
      if (Array.isArray(p.found_headers)) items.push(`Columns found: ${p.found_headers.join(", ")}`);
    } else if (Array.isArray(p.errors)) {
      items.push(...p.errors.map((e) => e.message));
    }
    showError(err.message, items);
  }

  // --- Small DOM helpers --------------------------------------------------

  function el(tag, text, className) {
    const node = document.createElement(tag);
    if (text !== undefined && text !== null) node.textContent = String(text);
    if (className) node.className = className;
    return node;
  }

  function stateLabel(state) {
    return STATE_LABELS[state] || state;
  }

  function setState(node, state) {
    node.textContent = stateLabel(state);
    node.dataset.state = state;
    node.className = `state state-${state}`;
  }

  // --- Signing in and out -------------------------------------------------

  async function signIn(candidate, quiet) {
    token = candidate;
    let roles;
    try {
      roles = (await getJson("/v1/roles")).items;
    } catch (err) {
      token = null;
      sessionStorage.removeItem(TOKEN_KEY);
      if (!quiet) fail(err);
      showSignIn(!quiet);
      return;
    }
    sessionStorage.setItem(TOKEN_KEY, token);
    ui.token.value = "";
    fillRoles(roles);
    ui.signin.hidden = true;
    ui.workspace.hidden = false;
    ui.signOut.hidden = false;
    say("Signed in.");
    ui.role.focus();
    loadHistory();
  }

  function signOut() {
    stopFollowing();
    token = null;
    sessionStorage.removeItem(TOKEN_KEY);
    resetImport();
    ui.historyBody.replaceChildren();
    ui.role.replaceChildren();
    say("Signed out.");
    showSignIn();
  }

  function showSignIn(focus = true) {
    ui.workspace.hidden = true;
    ui.signOut.hidden = true;
    ui.signin.hidden = false;
    if (focus) ui.token.focus();
  }

  function fillRoles(roles) {
    // No role: each row's Role column says it.
    const none = el("option", "Each row's own Role");
    none.value = "";
    ui.role.replaceChildren(
      none,
      ...roles.map((r) => {
        const o = el("option", r.name);
        o.value = r.key;
        return o;
      }),
    );
  }

  // --- Choosing a file ----------------------------------------------------

  function chooseFile(file) {
    chosenFile = file || null;
    // One source at a time: a file replaces pasted text.
    if (chosenFile) ui.paste.value = "";
    ui.fileChosen.hidden = !chosenFile;
    ui.fileName.textContent = chosenFile ? `${chosenFile.name} (${formatBytes(chosenFile.size)})` : "";
  }

  function clearFile() {
    chooseFile(null);
    ui.file.value = "";
  }

  function formatBytes(n) {
    if (n < 1024) return `${n} bytes`;
    if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KB`;
    return `${(n / 1024 / 1024).toFixed(1)} MB`;
  }

  // What to upload: the chosen file, else the pasted text as pasted.csv.
  function fileToSend() {
    if (chosenFile) return [chosenFile, chosenFile.name];
    const text = ui.paste.value;
    if (text.trim() === "") return null;
    return [new Blob([text], { type: "text/csv" }), "pasted.csv"];
  }

  // --- Uploading, committing, cancelling ----------------------------------

  async function startDryRun() {
    const file = fileToSend();
    if (!file) {
      showError("Choose a file, or paste its text, first.");
      ui.file.focus();
      return;
    }
    const form = new FormData();
    form.append("file", file[0], file[1]);
    if (ui.role.value) form.append("role", ui.role.value);
    form.append("mode", ui.mode.value);
    form.append("invite", ui.invite.value);
    form.append("dry_run", "true");

    ui.dryRun.disabled = true;
    say("Uploading…");
    try {
      const imp = await postJson("/v1/imports", form);
      showRun(imp);
      say("Checking the file…");
      follow(imp.id);
      loadHistory();
    } catch (err) {
      fail(err);
    } finally {
      ui.dryRun.disabled = false;
    }
  }

  async function commit() {
    const id = current.id;
    ui.commit.disabled = true;
    try {
      const imp = await postJson(importPath(id, "/commit"));
      if (!current || current.id !== id) return;
      if (SETTLED.has(imp.state)) {
        settled(imp); // a held import finishes at once
      } else {
        showImport(imp);
        clearErrors();
        say("Importing…");
        follow(id);
      }
    } catch (err) {
      fail(err);
    } finally {
      ui.commit.disabled = false;
    }
  }

  async function cancel() {
    const id = current.id;
    ui.cancel.disabled = true;
    try {
      const imp = await postJson(importPath(id, "/cancel"));
      if (!current || current.id !== id) return;
      stopFollowing();
      settled(imp);
    } catch (err) {
      fail(err);
    } finally {
      ui.cancel.disabled = false;
    }
  }

  async function downloadErrors() {
    try {
      const res = await request("GET", importPath(current.id, "/errors.csv"));
      const name = await saveDownload(res, "errors.csv");
      say(`Downloaded ${name}.`);
    } catch (err) {
      fail(err);
    }
  }

  async function downloadTemplate() {
    const role = ui.role.value;
    const query = role ? `?role=${encodeURIComponent(role)}` : "";
    try {
      const res = await request("GET", `/v1/templates/users.csv${query}`);
      const name = await saveDownload(res, "users.csv");
      say(`Downloaded ${name}.`);
    } catch (err) {
      fail(err);
    }
  }

  // --- Following an import ------------------------------------------------

  function stopFollowing() {
    if (stream) stream.close();
    stream = null;
  }

  // Follows the current import with EventSource until it settles. A
  // browser's EventSource cannot send the Authorization header, so it
  // opens the URL of a short-lived events token.
  async function follow(id) {
    stopFollowing();
    const gen = generation;
    let grant;
    try {
      grant = await postJson(importPath(id, "/events-token"));
    } catch (err) {
      fail(err);
      return;
    }
    if (gen !== generation) return;
    const source = new EventSource(grant.events_url);
    stream = source;
    const live = () => gen === generation && stream === source;
    source.addEventListener("progress", (e) => {
      if (live()) showImport(JSON.parse(e.data));
    });
    source.addEventListener("state", (e) => {
      // The stream ends after this event: close it before EventSource
      // tries to reconnect.
      source.close();
      if (!live()) return;
      stream = null;
      settled(JSON.parse(e.data));
    });
    source.addEventListener("reconnect", () => {
      // The API process is stopping; EventSource comes back by itself.
      if (live()) say("The server is restarting; reconnecting…");
    });
    source.addEventListener("error", () => {
      // A dropped stream is retried by EventSource itself; CLOSED means a
      // retry was refused (the events token lasts 5 minutes). Ask again,
      // unless the import settled meanwhile.
      if (source.readyState !== EventSource.CLOSED || !live()) return;
      stream = null;
      setTimeout(() => resume(id, gen), 2000);
    });
  }

  async function resume(id, gen) {
    if (gen !== generation) return;
    try {
      const imp = await getJson(importPath(id));
      if (gen !== generation) return;
      if (SETTLED.has(imp.state)) {
        settled(imp);
      } else {
        showImport(imp);
        follow(id);
      }
    } catch (err) {
      fail(err);
    }
  }

  function settled(imp) {
    showImport(imp);
    loadErrors(null);
    loadHistory();
    if (imp.state === "validated") {
      say("Dry run done. Check the counts and the errors, then import the file or cancel.");
    } else if (imp.state === "held") {
      say("The import is held: it would archive more users than allowed. Import to archive them, or cancel.");
    } else {
      say(`Import ${stateLabel(imp.state).toLowerCase()}.`);
    }
  }

  // --- The run panel ------------------------------------------------------

  // Shows a new import in the run panel (one just uploaded, or one chosen
  // from the history).
  function showRun(imp) {
    stopFollowing();
    generation++;
    current = null;
    clearErrors();
    showImport(imp);
    ui.run.hidden = false;
    ui.runHeading.focus();
  }

  // Updates the run panel from an Import, or from an event's data (which
  // carries id, state, counts, progress and error only).
  function showImport(imp) {
    current = current && current.id === imp.id ? { ...current, ...imp } : { ...imp };
    const { state, counts } = current;
    ui.run.dataset.importId = current.id;
    ui.runHeading.textContent = current.dry_run ? "Dry run" : "Import";
    setState(ui.runState, state);
    ui.runFile.textContent = current.file && current.file.name ? current.file.name : "";
    ui.progress.value = current.progress || 0;
    ui.progress.textContent = `${Math.round((current.progress || 0) * 100)}%`;
    ui.runRows.textContent = `${counts.rows_processed} of ${counts.rows_total} rows`;
    for (const key of COUNTS) {
      const dd = $(`count-${key}`);
      dd.textContent = counts[key];
      // Failures and warnings stand out only when there are some.
      dd.parentElement.classList.toggle("is-zero", counts[key] === 0);
    }

    let note = "";
    if (state === "validated") note = "Nothing has been written yet: these are the counts the import would give.";
    else if (state === "held") note = `It would archive ${counts.archived} users.`;
    else if (current.purged_at) note = "This import's rows have been deleted; only its counts remain.";
    ui.runNote.textContent = note;
    ui.runError.hidden = !current.error;
    ui.runError.textContent = current.error ? current.error.message : "";

    ui.commit.hidden = !(state === "validated" || state === "held");
    ui.cancel.hidden = !CANCELLABLE.has(state);
    ui.downloadErrors.hidden = !(SETTLED.has(state) && counts.failed > 0 && !current.purged_at);
    ui.startAgain.hidden = !FINAL.has(state);
  }

  function clearErrors() {
    ui.errorsBody.replaceChildren();
    ui.errorsWrap.hidden = true;
    ui.errorsSummary.textContent = "";
    ui.errorsFirst.hidden = true;
    ui.errorsNext.hidden = true;
    errorsNextCursor = null;
  }

  async function loadErrors(cursor) {
    const id = current.id;
    const gen = generation;
    const query = new URLSearchParams({ limit: String(ERRORS_PER_PAGE) });
    if (cursor) query.set("cursor", cursor);
    let page;
    try {
      page = await getJson(importPath(id, `/errors?${query}`));
    } catch (err) {
      if (gen !== generation) return;
      if (err instanceof ApiError && err.status === 410) {
        clearErrors();
        ui.errorsSummary.textContent = "The rows of this import have been deleted.";
      } else {
        fail(err);
      }
      return;
    }
    if (gen !== generation) return;

    ui.errorsBody.replaceChildren(
      ...page.items.map((item) => {
        const tr = el("tr", undefined, `severity-${item.severity}`);
        tr.dataset.testid = "error-row";
        tr.append(
          el("td", item.line),
          el("td", item.row),
          el("td", item.severity),
          el("td", item.field),
          el("td", item.code, "code"),
          el("td", item.message, "message"),
        );
        return tr;
      }),
    );
    ui.errorsWrap.hidden = page.items.length === 0;
    const { failed, warnings } = page.counts;
    ui.errorsSummary.textContent =
      failed + warnings === 0
        ? "No errors and no warnings."
        : `${failed} failed ${failed === 1 ? "row" : "rows"}, ${warnings} ${warnings === 1 ? "warning" : "warnings"}.`;
    errorsNextCursor = page.next_cursor;
    ui.errorsNext.hidden = !page.next_cursor;
    ui.errorsFirst.hidden = !cursor;
  }

  function resetImport() {
    stopFollowing();
    generation++;
    current = null;
    clearErrors();
    ui.run.hidden = true;
    // The role and options stay: the next file is often for the same.
    ui.paste.value = "";
    clearFile();
    markSelected(null);
  }

  // --- History ------------------------------------------------------------

  async function loadHistory() {
    const gen = ++historyGeneration;
    let page;
    try {
      page = await getJson(`/v1/imports?limit=${HISTORY_LIMIT}`);
    } catch (err) {
      fail(err);
      return;
    }
    if (gen !== historyGeneration || !token) return;
    ui.historyBody.replaceChildren(...page.items.map(historyRow));
    ui.historyWrap.hidden = page.items.length === 0;
    ui.historyEmpty.hidden = page.items.length > 0;
    markSelected(current && current.id);
  }

  function historyRow(imp) {
    const tr = el("tr");
    tr.dataset.id = imp.id;
    tr.dataset.testid = "history-row";

    const when = new Date(imp.created_at);
    const shown = when.toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" });
    const time = el("time", shown);
    time.dateTime = imp.created_at;
    const whenCell = el("td", undefined, "when");
    whenCell.append(time);

    const stateCell = el("td", undefined, "state-cell");
    const badge = el("span");
    setState(badge, imp.state);
    stateCell.append(badge);
    if (imp.dry_run) stateCell.append(" ", el("span", "dry run", "tag"));

    const c = imp.counts;
    const counts = `${c.created} created, ${c.updated} updated, ${c.unchanged} unchanged, ${c.failed} failed`;

    const view = el("button", "View");
    view.type = "button";
    view.className = "quiet";
    const name = imp.file.name || "upload";
    view.setAttribute("aria-label", `View ${name}, uploaded ${shown}`);
    view.addEventListener("click", () => viewImport(imp.id));
    const viewCell = el("td");
    viewCell.append(view);

    tr.append(whenCell, el("td", name, "file"), stateCell, el("td", counts, "counts-text"), viewCell);
    return tr;
  }

  function markSelected(id) {
    for (const tr of ui.historyBody.rows) {
      const on = tr.dataset.id === id;
      tr.classList.toggle("is-selected", on);
      if (on) tr.setAttribute("aria-current", "true");
      else tr.removeAttribute("aria-current");
    }
  }

  async function viewImport(id) {
    let imp;
    try {
      imp = await getJson(importPath(id));
    } catch (err) {
      fail(err);
      return;
    }
    showRun(imp);
    markSelected(id);
    if (SETTLED.has(imp.state)) {
      loadErrors(null);
      say(`Showing the import of ${imp.file.name || "an upload"}.`);
    } else {
      say(`Following the import of ${imp.file.name || "an upload"}…`);
      follow(id);
    }
  }

  // --- Wiring -------------------------------------------------------------

  ui.signinForm.addEventListener("submit", (e) => {
    e.preventDefault();
    const candidate = ui.token.value.trim();
    if (!candidate) {
      showError("Paste an API token first.");
      ui.token.focus();
      return;
    }
    say("Signing in…");
    signIn(candidate, false);
  });
  ui.signOut.addEventListener("click", signOut);

  ui.downloadTemplate.addEventListener("click", downloadTemplate);
  ui.file.addEventListener("change", () => chooseFile(ui.file.files[0]));
  ui.fileClear.addEventListener("click", () => {
    clearFile();
    ui.file.focus();
  });
  // Typing or pasting text replaces a chosen file.
  ui.paste.addEventListener("input", () => {
    if (chosenFile && ui.paste.value !== "") clearFile();
  });
  ui.dropzone.addEventListener("dragover", (e) => {
    e.preventDefault();
    ui.dropzone.classList.add("is-over");
  });
  ui.dropzone.addEventListener("dragleave", () => ui.dropzone.classList.remove("is-over"));
  ui.dropzone.addEventListener("drop", (e) => {
    e.preventDefault();
    ui.dropzone.classList.remove("is-over");
    const file = e.dataTransfer.files[0];
    if (file) {
      ui.file.value = "";
      chooseFile(file);
    }
  });
  ui.importForm.addEventListener("submit", (e) => {
    e.preventDefault();
    startDryRun();
  });

  ui.commit.addEventListener("click", commit);
  ui.cancel.addEventListener("click", cancel);
  ui.downloadErrors.addEventListener("click", downloadErrors);
  ui.startAgain.addEventListener("click", () => {
    resetImport();
    say("Ready for a new file.");
    ui.role.focus();
  });
  ui.errorsNext.addEventListener("click", () => loadErrors(errorsNextCursor));
  ui.errorsFirst.addEventListener("click", () => loadErrors(null));
  ui.historyRefresh.addEventListener("click", loadHistory);

  const saved = sessionStorage.getItem(TOKEN_KEY);
  // On load, focus stays where the browser puts it.
  if (saved) signIn(saved, true);
  else showSignIn(false);
})();
