/* Writing CSV cells that spreadsheets open safely, and reading them back.
 *
 * Pure. Cells are appended to a Buf; the caller writes delimiters and line
 * ends (CRLF). */
#pragma once

#include <stddef.h>

#include "buf.h"

/* Appends one cell. A value that a spreadsheet would run as a formula
 * gets a leading apostrophe, which makes it inert: one starting with a tab
 * or CR, or with = + - @ (or their full-width, small or minus-sign forms)
 * after any white space (ASCII, no-break, ideographic, zero-width). So
 * does one that already starts with apostrophes before such a formula (so
 * that the round trip keeps it). A value holding the delimiter, a quote, a
 * line break or outer spaces is quoted, inner quotes doubled. 0 or
 * -ENOMEM. */
int csv_writer_cell(Buf *b, const char *s, size_t len, char delimiter) _must_check_;

/* Undoes the apostrophe csv_writer_cell() adds, for a cell read back from
 * roster's own error CSV: "'=x" becomes "=x". Works in place; returns the
 * new length. */
size_t csv_writer_unguard(char *s, size_t len);
