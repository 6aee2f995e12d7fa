/* The audit trail from the API's side: the events of a request (its
 * caller, token and id) and GET /v1/audit. audit_store.h says what is
 * recorded and when. */
#pragma once

#include "app.h"
#include "audit_store.h"

/* The request's event for action; its object is the caller's to set. */
AuditEvent audit_of(const Request *r, const char *action);

/* Records that the request reads personal data (errors.download,
 * results.download, users.export) before it answers: 0, or 503 with the
 * problem set when it cannot be recorded (the download is then refused). */
unsigned audit_download(Request *r, const char *action, const char *object);

/* GET /v1/audit: the account's events, oldest first, paged by id;
 * filter `action`. Needs audit:read. */
unsigned audit_list(Request *r);
