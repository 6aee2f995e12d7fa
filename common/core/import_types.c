#include "import_types.h"

#include <errno.h>
#include <string.h>

#include "macro.h"

static const char *const state_names[_IMPORT_STATE_MAX] = {
        [IMPORT_STATE_QUEUED] = "queued",
        [IMPORT_STATE_PROCESSING] = "processing",
        [IMPORT_STATE_VALIDATING] = "validating",
        [IMPORT_STATE_VALIDATED] = "validated",
        [IMPORT_STATE_HELD] = "held",
        [IMPORT_STATE_COMPLETED] = "completed",
        [IMPORT_STATE_COMPLETED_WITH_ERRORS] = "completed_with_errors",
        [IMPORT_STATE_FAILED] = "failed",
        [IMPORT_STATE_CANCELLED] = "cancelled",
};

static const char *const mode_names[_IMPORT_MODE_MAX] = {
        [IMPORT_MODE_UPSERT] = "upsert",
        [IMPORT_MODE_CREATE_ONLY] = "create_only",
        [IMPORT_MODE_UPDATE_ONLY] = "update_only",
};

static const char *const invite_names[_INVITE_MODE_MAX] = {
        [INVITE_NEW_USERS] = "new_users",
        [INVITE_NONE] = "none",
};

static const char *const missing_names[_MISSING_MODE_MAX] = {
        [MISSING_KEEP] = "keep",
        [MISSING_ARCHIVE] = "archive",
};

static int lookup(const char *const *names, int n, const char *s) {
        for (int i = 0; s && i < n; i++)
                if (strcmp(s, names[i]) == 0)
                        return i;
        return -EINVAL;
}

const char *import_state_to_string(ImportState s) {
        return (unsigned) s < _IMPORT_STATE_MAX ? state_names[s] : NULL;
}

int import_state_from_string(const char *s, ImportState *ret) {
        int i = lookup(state_names, _IMPORT_STATE_MAX, s);
        if (i < 0)
                return i;
        *ret = (ImportState) i;
        return 0;
}

bool import_state_is_final(ImportState s) {
        return s == IMPORT_STATE_VALIDATED || s == IMPORT_STATE_HELD || s == IMPORT_STATE_COMPLETED ||
               s == IMPORT_STATE_COMPLETED_WITH_ERRORS || s == IMPORT_STATE_FAILED || s == IMPORT_STATE_CANCELLED;
}

bool import_state_is_running(ImportState s) {
        return s == IMPORT_STATE_PROCESSING || s == IMPORT_STATE_VALIDATING;
}

const char *import_mode_to_string(ImportMode m) {
        return (unsigned) m < _IMPORT_MODE_MAX ? mode_names[m] : NULL;
}

int import_mode_from_string(const char *s, ImportMode *ret) {
        int i = lookup(mode_names, _IMPORT_MODE_MAX, s);
        if (i < 0)
                return i;
        *ret = (ImportMode) i;
        return 0;
}

const char *invite_mode_to_string(InviteMode m) {
        return (unsigned) m < _INVITE_MODE_MAX ? invite_names[m] : NULL;
}

int invite_mode_from_string(const char *s, InviteMode *ret) {
        int i = lookup(invite_names, _INVITE_MODE_MAX, s);
        if (i < 0)
                return i;
        *ret = (InviteMode) i;
        return 0;
}

const char *missing_mode_to_string(MissingMode m) {
        return (unsigned) m < _MISSING_MODE_MAX ? missing_names[m] : NULL;
}

int missing_mode_from_string(const char *s, MissingMode *ret) {
        int i = lookup(missing_names, _MISSING_MODE_MAX, s);
        if (i < 0)
                return i;
        *ret = (MissingMode) i;
        return 0;
}
