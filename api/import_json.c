#include "import_json.h"

#include <stdio.h>
#include <string.h>

#include "json_text.h"

json_t *import_json_new(const ImportRecord *rec) {
        char self[96], errors[112], errors_csv[112], events[112], deliveries[128], results[112],
                results_csv[112];
        snprintf(self, sizeof self, "/v1/imports/%s", rec->id);
        snprintf(errors, sizeof errors, "%s/errors", self);
        snprintf(errors_csv, sizeof errors_csv, "%s/errors.csv", self);
        snprintf(events, sizeof events, "%s/events", self);
        snprintf(deliveries, sizeof deliveries, "%s/webhook-deliveries", self);
        snprintf(results, sizeof results, "%s/results", self);
        snprintf(results_csv, sizeof results_csv, "%s/results.csv", self);

        double progress = 0;
        if (rec->rows_total > 0)
                progress = (double) rec->rows_processed / (double) rec->rows_total;
        if (progress > 1)
                progress = 1;
        /* A finished import is done even when it stopped early. */
        if (import_state_is_final(rec->state) && rec->state != IMPORT_STATE_CANCELLED &&
            rec->state != IMPORT_STATE_FAILED)
                progress = 1;

        json_t *error = json_null();
        if (rec->error_code)
                error = json_pack("{s:s, s:s}", "code", rec->error_code, "message",
                                  rec->error_message ? rec->error_message : "");

        json_t *j = json_pack(
                "{s:s, s:s, s:o, s:s, s:s, s:b, s:o, s:{s:o, s:I, s:o, s:o, s:o}, "
                "s:{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}, s:f, s:o, s:o, s:o, s:o, s:o, s:o, s:s, s:i, "
                "s:{s:s, s:s, s:s, s:s, s:s, s:s, s:s}}",
                "id", rec->id, "state", import_state_to_string(rec->state), "role",
                json_text_opt_string(rec->role_key), "mode", import_mode_to_string(rec->mode), "invite",
                invite_mode_to_string(rec->invite), "dry_run", rec->dry_run, "actor",
                json_text_opt_string(rec->actor),
                "file", "name", json_text_opt_string(rec->file_name), "bytes", (json_int_t) rec->file_bytes,
                "sha256", json_text_opt_string(rec->file_sha256), "encoding",
                json_text_opt_string(rec->file_encoding), "delimiter", json_text_opt_string(rec->file_delimiter),
                "counts", "rows_total", (json_int_t) rec->rows_total, "rows_processed",
                (json_int_t) rec->rows_processed, "created", (json_int_t) rec->created, "updated",
                (json_int_t) rec->updated, "unchanged", (json_int_t) rec->unchanged, "failed",
                (json_int_t) rec->failed, "archived", (json_int_t) rec->archived, "invites",
                (json_int_t) rec->invites, "warnings", (json_int_t) rec->warning_rows,
                "progress", progress, "warnings", json_text_parse_or(rec->warnings, json_array()), "error", error,
                "created_at", json_text_opt_string(rec->created_at), "started_at",
                json_text_opt_string(rec->started_at), "finished_at", json_text_opt_string(rec->finished_at),
                "callback_url", json_text_opt_string(rec->callback_url),
                "missing", missing_mode_to_string(rec->missing), "change_threshold", rec->change_threshold,
                "links", "self", self, "errors", errors, "errors_csv", errors_csv, "events", events,
                "results", results, "results_csv", results_csv, "webhook_deliveries", deliveries);
        /* Since when its file and row data are gone, and who deleted them. */
        json_object_set_new(j, "purged_at", json_text_opt_string(rec->purged_at));
        json_object_set_new(j, "deleted_at", json_text_opt_string(rec->deleted_at));
        json_object_set_new(j, "deleted_by", json_text_opt_string(rec->deleted_by));
        return j;
}
