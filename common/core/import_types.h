/* The named values of an import - its state, its mode, whom it invites -
 * as enums, each with the one place that spells it: the same words are
 * the API's (JSON, options, filters) and the database's (imports.state,
 * .mode, .invite).
 *
 * Pure. Strings returned are static. */
#pragma once

#include <stdbool.h>

typedef enum ImportState {
        IMPORT_STATE_QUEUED,
        IMPORT_STATE_PROCESSING,
        IMPORT_STATE_VALIDATING,
        IMPORT_STATE_VALIDATED, /* a dry run's end; waits for a commit */
        IMPORT_STATE_HELD, /* would archive more than its threshold; waits for a commit */
        IMPORT_STATE_COMPLETED,
        IMPORT_STATE_COMPLETED_WITH_ERRORS,
        IMPORT_STATE_FAILED,
        IMPORT_STATE_CANCELLED,
        _IMPORT_STATE_MAX,
} ImportState;

typedef enum ImportMode {
        IMPORT_MODE_UPSERT,
        IMPORT_MODE_CREATE_ONLY,
        IMPORT_MODE_UPDATE_ONLY,
        _IMPORT_MODE_MAX,
} ImportMode;

typedef enum InviteMode {
        INVITE_NEW_USERS,
        INVITE_NONE,
        _INVITE_MODE_MAX,
} InviteMode;

/* What becomes of the users of the import's roles that its file does not
 * list (a full sync archives them). */
typedef enum MissingMode {
        MISSING_KEEP,
        MISSING_ARCHIVE,
        _MISSING_MODE_MAX,
} MissingMode;

/* The state's API name ("queued", ...); static storage. */
const char *import_state_to_string(ImportState s);
/* 0, or -EINVAL for a word that names no state. */
int import_state_from_string(const char *s, ImportState *ret);
/* The states an import does not leave by itself (validated and held
 * included: it leaves them only when committed or cancelled). */
bool import_state_is_final(ImportState s);
/* A worker is on it. */
bool import_state_is_running(ImportState s);

/* Each option's API name (static storage) and its parse: 0, or -EINVAL
 * for a word that names no value (*ret untouched). */
const char *import_mode_to_string(ImportMode m);
int import_mode_from_string(const char *s, ImportMode *ret);
const char *invite_mode_to_string(InviteMode m);
int invite_mode_from_string(const char *s, InviteMode *ret);
const char *missing_mode_to_string(MissingMode m);
int missing_mode_from_string(const char *s, MissingMode *ret);
