#include "text_decode.h"

#include <errno.h>
#include <iconv.h>
#include <stdlib.h>
#include <string.h>

#include "utf8.h"

static const char *const encoding_names[_TEXT_ENCODING_MAX] = {
        [TEXT_ENCODING_UTF8] = "utf-8",
        [TEXT_ENCODING_UTF8_BOM] = "utf-8-bom",
        [TEXT_ENCODING_UTF16LE] = "utf-16le",
        [TEXT_ENCODING_UTF16BE] = "utf-16be",
        [TEXT_ENCODING_WINDOWS_1252] = "windows-1252",
};

static const char REPLACEMENT[] = "\xEF\xBF\xBD"; /* U+FFFD */

const char *text_encoding_name(TextEncoding e) {
        return e < _TEXT_ENCODING_MAX ? encoding_names[e] : NULL;
}

int text_encoding_from_name(const char *name, TextEncoding *ret) {
        for (int i = 0; i < _TEXT_ENCODING_MAX; i++)
                if (strcmp(name, encoding_names[i]) == 0) {
                        *ret = (TextEncoding) i;
                        return 0;
                }
        return -EINVAL;
}

bool text_encoding_is_ascii_compatible(TextEncoding e) {
        return e != TEXT_ENCODING_UTF16LE && e != TEXT_ENCODING_UTF16BE;
}

size_t text_encoding_bom_size(TextEncoding e) {
        switch (e) {
        case TEXT_ENCODING_UTF8_BOM: return 3;
        case TEXT_ENCODING_UTF16LE:
        case TEXT_ENCODING_UTF16BE: return 2;
        default: return 0;
        }
}

void text_sniffer_init(TextSniffer *s) {
        *s = (TextSniffer){ .utf8_lo = 0x80, .utf8_hi = 0xBF };
}

void text_sniffer_feed(TextSniffer *s, const void *data, size_t len) {
        const uint8_t *p = data;

        while (s->head_len < sizeof s->head && len) {
                /* Keep the first bytes for the BOM and the format checks. */
                uint8_t c = *p++;
                len--;
                s->head[s->head_len++] = c;
                s->bytes++;
                if (!s->utf8_invalid && !utf8_step(c, &s->utf8_need, &s->utf8_lo, &s->utf8_hi))
                        s->utf8_invalid = true;
        }
        s->bytes += len;
        if (s->utf8_invalid)
                return;
        for (size_t i = 0; i < len; i++) {
                /* Plain ASCII runs are the common case: skip them quickly. */
                if (s->utf8_need == 0 && p[i] < 0x80)
                        continue;
                if (!utf8_step(p[i], &s->utf8_need, &s->utf8_lo, &s->utf8_hi)) {
                        s->utf8_invalid = true;
                        return;
                }
        }
}

static const struct {
        const char *magic;
        size_t len;
        const char *what;
} binary_formats[] = {
        { "PK\x03\x04", 4, "an Excel workbook or other zip archive (.xlsx, .ods, .zip)" },
        { "\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1", 8, "an old Excel workbook (.xls)" },
        { "%PDF", 4, "a PDF document" },
        { "\x1F\x8B", 2, "a gzip archive" },
        { "\x89PNG", 4, "a PNG image" },
        { "\xFF\xD8\xFF", 3, "a JPEG image" },
};

int text_sniffer_result(const TextSniffer *s, TextEncoding *ret, const char **ret_what) {
        const uint8_t *h = s->head;

        if (s->bytes == 0)
                return -ENODATA;
        for (size_t i = 0; i < ELEMENTSOF(binary_formats); i++)
                if (s->head_len >= binary_formats[i].len &&
                    memcmp(h, binary_formats[i].magic, binary_formats[i].len) == 0) {
                        if (ret_what)
                                *ret_what = binary_formats[i].what;
                        return -EMEDIUMTYPE;
                }
        if (s->head_len >= 3 && h[0] == 0xEF && h[1] == 0xBB && h[2] == 0xBF)
                /* The mark says UTF-8 even if some bytes are not: those
                 * decode to U+FFFD and their rows fail as invalid_text. */
                *ret = TEXT_ENCODING_UTF8_BOM;
        else if (s->head_len >= 2 && h[0] == 0xFF && h[1] == 0xFE)
                *ret = TEXT_ENCODING_UTF16LE;
        else if (s->head_len >= 2 && h[0] == 0xFE && h[1] == 0xFF)
                *ret = TEXT_ENCODING_UTF16BE;
        else if (s->utf8_invalid || s->utf8_need)
                *ret = TEXT_ENCODING_WINDOWS_1252;
        else
                *ret = TEXT_ENCODING_UTF8;
        return 0;
}

struct TextDecoder {
        TextEncoding encoding;
        iconv_t cd; /* (iconv_t) -1 for UTF-8 */
        size_t bom_left; /* BOM bytes still to drop at the start */
        bool started;
        uint8_t pending[8]; /* a sequence cut at the end of the last chunk */
        size_t pending_len;
        uint8_t need, lo, hi; /* UTF-8 validation state */
        uint64_t replacements;
};

TextDecoder *text_decoder_new(TextEncoding e) {
        TextDecoder *d = calloc(1, sizeof *d);
        if (!d)
                return NULL;
        d->encoding = e;
        d->cd = (iconv_t) -1;
        d->bom_left = text_encoding_bom_size(e);
        d->lo = 0x80;
        d->hi = 0xBF;
        const char *from = NULL;
        switch (e) {
        case TEXT_ENCODING_UTF16LE: from = "UTF-16LE"; break;
        case TEXT_ENCODING_UTF16BE: from = "UTF-16BE"; break;
        case TEXT_ENCODING_WINDOWS_1252: from = "WINDOWS-1252"; break;
        default: break;
        }
        if (from) {
                d->cd = iconv_open("UTF-8", from);
                if (d->cd == (iconv_t) -1) {
                        free(d);
                        return NULL;
                }
        }
        return d;
}

void text_decoder_free(TextDecoder *d) {
        if (!d)
                return;
        if (d->cd != (iconv_t) -1)
                iconv_close(d->cd);
        free(d);
}

uint64_t text_decoder_replacements(const TextDecoder *d) {
        return d->replacements;
}

/* UTF-8 in, UTF-8 out: copies valid runs, replaces each invalid sequence
 * with U+FFFD, keeps a cut sequence at the end in d->pending. */
static int feed_utf8(TextDecoder *d, const uint8_t *p, size_t len, Buf *out) {
        int r = buf_reserve(out, len + 3);
        if (r < 0)
                return r;

        size_t i = 0;
        while (i < len) {
                if (d->need == 0 && d->pending_len == 0) {
                        /* Fast path over ASCII. */
                        size_t start = i;
                        while (i < len && p[i] < 0x80)
                                i++;
                        if (i > start) {
                                r = buf_append(out, p + start, i - start);
                                if (r < 0)
                                        return r;
                                continue;
                        }
                }
                uint8_t c = p[i];
                if (utf8_step(c, &d->need, &d->lo, &d->hi)) {
                        d->pending[d->pending_len++] = c;
                        i++;
                        if (d->need == 0) {
                                r = buf_append(out, d->pending, d->pending_len);
                                if (r < 0)
                                        return r;
                                d->pending_len = 0;
                        }
                        continue;
                }
                /* Invalid: replace what was pending (or this byte, when it
                 * cannot start a sequence) and retry this byte afresh. */
                r = buf_append(out, REPLACEMENT, 3);
                if (r < 0)
                        return r;
                d->replacements++;
                if (d->pending_len == 0)
                        i++;
                d->pending_len = 0;
                d->need = 0;
        }
        return 0;
}

static int feed_iconv(TextDecoder *d, const uint8_t *p, size_t len, Buf *out) {
        /* A cut sequence from the last call is joined with the new bytes
         * first; it is at most a few bytes, so handle it in a small
         * buffer. */
        uint8_t joint[16];
        int r;

        while (d->pending_len && len) {
                size_t take = MIN(len, sizeof joint - d->pending_len);
                memcpy(joint, d->pending, d->pending_len);
                memcpy(joint + d->pending_len, p, take);
                size_t jlen = d->pending_len + take;
                char *in = (char *) joint;
                size_t inleft = jlen;

                r = buf_reserve(out, jlen * 4 + 8);
                if (r < 0)
                        return r;
                char *o = out->data + out->len;
                size_t oleft = out->cap - out->len - 1;
                size_t k = iconv(d->cd, &in, &inleft, &o, &oleft);
                int err = k == (size_t) -1 ? errno : 0;
                out->len = (size_t) (o - out->data);
                out->data[out->len] = '\0';
                size_t used = jlen - inleft;
                if (err == EILSEQ) {
                        r = buf_append(out, REPLACEMENT, 3);
                        if (r < 0)
                                return r;
                        d->replacements++;
                        used += d->encoding == TEXT_ENCODING_WINDOWS_1252 ? 1 : 2;
                        used = MIN(used, jlen);
                } else if (err == EINVAL && used < d->pending_len) {
                        /* Still incomplete even with the new bytes (only
                         * when the chunk was tiny). */
                        memcpy(d->pending, joint, jlen);
                        d->pending_len = jlen;
                        return 0;
                }
                /* `used` bytes of joint are done; the rest of the new
                 * bytes continue below. */
                if (used >= d->pending_len) {
                        size_t from_new = used - d->pending_len;
                        p += from_new;
                        len -= from_new;
                        d->pending_len = 0;
                } else {
                        memmove(d->pending, d->pending + used, d->pending_len - used);
                        d->pending_len -= used;
                }
        }

        char *in = (char *) p;
        size_t inleft = len;
        while (inleft) {
                r = buf_reserve(out, inleft * 2 + 16);
                if (r < 0)
                        return r;
                char *o = out->data + out->len;
                size_t oleft = out->cap - out->len - 1;
                size_t k = iconv(d->cd, &in, &inleft, &o, &oleft);
                int err = k == (size_t) -1 ? errno : 0;
                out->len = (size_t) (o - out->data);
                out->data[out->len] = '\0';
                if (!err || err == E2BIG)
                        continue;
                if (err == EINVAL) {
                        /* Incomplete sequence at the end: keep it. */
                        memcpy(d->pending, in, inleft);
                        d->pending_len = inleft;
                        return 0;
                }
                if (err != EILSEQ)
                        return -err;
                r = buf_append(out, REPLACEMENT, 3);
                if (r < 0)
                        return r;
                d->replacements++;
                size_t skip = MIN(inleft, d->encoding == TEXT_ENCODING_WINDOWS_1252 ? (size_t) 1 : (size_t) 2);
                in += skip;
                inleft -= skip;
        }
        return 0;
}

int text_decoder_feed(TextDecoder *d, const void *data, size_t len, Buf *out) {
        const uint8_t *p = data;

        /* Drop the byte-order mark, which may arrive split over chunks. */
        while (d->bom_left && len) {
                d->bom_left--;
                p++;
                len--;
        }
        if (!len)
                return 0;
        if (d->cd == (iconv_t) -1)
                return feed_utf8(d, p, len, out);
        return feed_iconv(d, p, len, out);
}

int text_decoder_finish(TextDecoder *d, Buf *out) {
        if (d->pending_len == 0 && d->need == 0)
                return 0;
        d->pending_len = 0;
        d->need = 0;
        d->replacements++;
        return buf_append(out, REPLACEMENT, 3);
}
