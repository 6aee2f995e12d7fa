/* Fuzz target for common/core/text_decode.h and common/utf8.h: any bytes
 * through each decoder, cut anywhere.
 *
 * For every encoding the input is decoded in one piece and cut as
 * fuzz_input.h says: the output must be valid UTF-8, NUL-terminated, and
 * the same (with the same count of U+FFFD) however it was cut; valid UTF-8
 * through the UTF-8 decoder comes out unchanged. The sniffer must reach
 * the same verdict whole and cut, and utf8_sanitize() must give valid
 * UTF-8 that is the input itself when that was valid. The decoders have
 * no size limit to reach: bodies are never repeated here. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "fuzz_input.h"
#include "text_decode.h"
#include "utf8.h"

static void check_utf8(const Buf *b) {
        if (!b->data) {
                if (b->len)
                        abort();
                return;
        }
        if (b->data[b->len] != '\0' || !utf8_is_valid(b->data, b->len))
                abort();
        /* Every code point starts with a byte that is not a continuation. */
        if (utf8_length(b->data, b->len) > b->len)
                abort();
}

static uint64_t decode(FuzzInput *in, TextEncoding e, bool whole, Buf *out) {
        _cleanup_(text_decoder_freep) TextDecoder *d = text_decoder_new(e);
        if (!d)
                abort();
        fuzz_input_rewind(in);
        for (size_t off = 0; off < in->len;) {
                size_t n = whole ? in->len : fuzz_input_cut(in, in->len - off);
                if (text_decoder_feed(d, in->body + off, n, out) != 0)
                        abort();
                off += n;
        }
        if (text_decoder_finish(d, out) != 0)
                abort();
        /* Finishing twice adds nothing. */
        size_t len = out->len;
        if (text_decoder_finish(d, out) != 0 || out->len != len)
                abort();
        check_utf8(out);
        return text_decoder_replacements(d);
}

static void check_decoders(FuzzInput *in) {
        for (TextEncoding e = 0; e < _TEXT_ENCODING_MAX; e++) {
                Buf whole = BUF_INIT, cut = BUF_INIT;
                uint64_t r_whole = decode(in, e, true, &whole);
                uint64_t r_cut = decode(in, e, false, &cut);

                if (whole.len != cut.len || (whole.len && memcmp(whole.data, cut.data, whole.len) != 0) ||
                    r_whole != r_cut) {
                        fprintf(stderr, "%s: the output depends on how the input was cut (%zu bytes, %llu U+FFFD "
                                        "whole; %zu bytes, %llu U+FFFD cut)\n",
                                text_encoding_name(e), whole.len, (unsigned long long) r_whole, cut.len,
                                (unsigned long long) r_cut);
                        abort();
                }
                if (e == TEXT_ENCODING_UTF8 && utf8_is_valid((const char *) in->body, in->len) &&
                    (r_whole || whole.len != in->len || (in->len && memcmp(whole.data, in->body, in->len) != 0)))
                        abort();
                /* Each U+FFFD counted is three bytes of the output. */
                if (whole.len < r_whole * 3)
                        abort();
                buf_done(&whole);
                buf_done(&cut);
        }
}

static void check_sniffer(FuzzInput *in) {
        TextSniffer whole, cut;
        TextEncoding e_whole = _TEXT_ENCODING_MAX, e_cut = _TEXT_ENCODING_MAX;
        const char *w_whole = NULL, *w_cut = NULL;

        text_sniffer_init(&whole);
        text_sniffer_feed(&whole, in->body, in->len);
        text_sniffer_init(&cut);
        fuzz_input_rewind(in);
        for (size_t off = 0; off < in->len;) {
                size_t n = fuzz_input_cut(in, in->len - off);
                text_sniffer_feed(&cut, in->body + off, n);
                off += n;
        }
        int r_whole = text_sniffer_result(&whole, &e_whole, &w_whole);
        int r_cut = text_sniffer_result(&cut, &e_cut, &w_cut);
        if (r_whole != r_cut || (r_whole == 0 && e_whole != e_cut) || w_whole != w_cut)
                abort();
        if (r_whole == 0 && !text_encoding_name(e_whole))
                abort();
        /* Text that is valid UTF-8 and has no mark is taken for UTF-8. */
        if (r_whole == 0 && e_whole == TEXT_ENCODING_WINDOWS_1252 && utf8_is_valid((const char *) in->body, in->len))
                abort();
}

static void check_sanitize(const FuzzInput *in) {
        _cleanup_free_ char *s = strndup((const char *) in->body, in->len);
        if (!s)
                abort();
        size_t len = strlen(s);
        _cleanup_free_ char *clean = utf8_sanitize(s);
        if (!clean || !utf8_is_valid(clean, strlen(clean)))
                abort();
        if (utf8_is_valid(s, len) && strcmp(s, clean) != 0)
                abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        FuzzInput in;

        fuzz_input_init(&in, data, size, false);
        check_decoders(&in);
        check_sniffer(&in);
        check_sanitize(&in);
        fuzz_input_done(&in);
        return 0;
}
