/* Loading establishments (schools) from a GIAS "edubasealldata" style CSV:
 * columns URN and EstablishmentName, others ignored; GIAS files are
 * Windows-1252, UTF-8 works too. All or nothing: one transaction, and a
 * file with any bad row loads nothing. */
#pragma once

#include <stdint.h>

#include "db.h"

typedef struct EstablishmentsReport {
        uint64_t rows, inserted, updated;
        const char *encoding;
        char message[1024]; /* what went wrong, for the operator */
} EstablishmentsReport;

/* 0, or -errno with rep->message set. */
int establishments_load(Db *db, const char *path, EstablishmentsReport *rep);
