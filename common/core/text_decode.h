/* Text encodings of uploaded files: detecting them and decoding to UTF-8.
 *
 * What users send: UTF-8 with or without a byte-order mark, UTF-16 with a
 * BOM (Excel's "Unicode text"), and Windows-1252 (Excel's "CSV" on
 * Windows), recognised because its bytes are not valid UTF-8.
 *
 * TextSniffer is a plain struct watching a byte stream; it allocates
 * nothing. TextDecoder converts a stream to UTF-8 chunk by chunk with
 * glibc's iconv; bytes that cannot be decoded become U+FFFD, which the row
 * rules then report as invalid_text. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "utf8.h"

typedef enum TextEncoding {
        TEXT_ENCODING_UTF8,
        TEXT_ENCODING_UTF8_BOM,
        TEXT_ENCODING_UTF16LE,
        TEXT_ENCODING_UTF16BE,
        TEXT_ENCODING_WINDOWS_1252,
        _TEXT_ENCODING_MAX,
} TextEncoding;

/* "utf-8", "utf-8-bom", "utf-16le", "utf-16be", "windows-1252". */
const char *text_encoding_name(TextEncoding e);
int text_encoding_from_name(const char *name, TextEncoding *ret);
/* True for the encodings whose delimiters and line ends are single ASCII
 * bytes in the raw stream (all but UTF-16). */
bool text_encoding_is_ascii_compatible(TextEncoding e);

typedef struct TextSniffer {
        uint8_t head[8];
        size_t head_len;
        uint64_t bytes;
        uint8_t utf8_need;
        uint8_t utf8_lo, utf8_hi;
        bool utf8_invalid;
} TextSniffer;

/* Starts a sniff / feeds it the next bytes of the file (any split). */
void text_sniffer_init(TextSniffer *s);
void text_sniffer_feed(TextSniffer *s, const void *data, size_t len);

/* Decides the encoding of everything fed so far. Returns 0 and sets *ret,
 * or -EMEDIUMTYPE when the first bytes are those of a known binary format
 * (a workbook, an archive, a PDF, an image), with *ret_what naming it, or
 * -ENODATA when nothing was fed. */
int text_sniffer_result(const TextSniffer *s, TextEncoding *ret, const char **ret_what);

/* How many bytes of byte-order mark the encoding has at the start. */
size_t text_encoding_bom_size(TextEncoding e);

typedef struct TextDecoder TextDecoder;

/* Returns a decoder, or NULL when out of memory (or iconv lacks the
 * conversion). Free with text_decoder_free(). */
TextDecoder *text_decoder_new(TextEncoding e);
void text_decoder_free(TextDecoder *d);

/* Appends the UTF-8 form of the next len bytes to out. A byte-order mark
 * at the very start is dropped; a sequence cut at the end of the chunk is
 * kept for the next call. 0 or -ENOMEM. */
int text_decoder_feed(TextDecoder *d, const void *data, size_t len, Buf *out) _must_check_;
/* Flushes a trailing incomplete sequence (as U+FFFD). 0 or -ENOMEM. */
int text_decoder_finish(TextDecoder *d, Buf *out) _must_check_;
/* How many U+FFFD the decoder has produced so far. */
uint64_t text_decoder_replacements(const TextDecoder *d);

DEFINE_CLEANUP_FUNC(TextDecoder *, text_decoder_free);
