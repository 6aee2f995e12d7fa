/* Unit tests for common/core/email_filter.h: emails on one row are never taken
 * for repeats at the sizes the worker uses, repeats always are (whatever
 * the case of their letters), and a file larger than expected still
 * flags every repeat. */
#include <stdio.h>
#include <string.h>

#include "email_filter.h"
#include "tap.h"

static void email(char *buf, size_t size, size_t i, const char *domain) {
        snprintf(buf, size, "user.%zu@%s", i, domain);
}

static size_t repeats_flagged(EmailFilter *f, size_t n, const char *domain) {
        size_t flagged = 0;
        char e[64];
        for (size_t i = 0; i < n; i++) {
                email(e, sizeof e, i, domain);
                flagged += email_filter_may_repeat(f, e, strlen(e));
        }
        return flagged;
}

int main(void) {
        char e[64];

        /* 100k distinct emails, one row each. */
        EmailFilter *f = email_filter_new(100000);
        ok(f != NULL, "a filter for 100k rows");
        for (size_t i = 0; i < 100000; i++) {
                email(e, sizeof e, i, "school.sch.uk");
                email_filter_add(f, e, strlen(e));
        }
        size_t false_positives = repeats_flagged(f, 100000, "school.sch.uk");
        diag("%zu of 100000 distinct emails taken for repeats", false_positives);
        ok(false_positives < 100, "distinct emails are (almost) never taken for repeats");

        /* The same emails again, in upper case: every one repeats now. */
        for (size_t i = 0; i < 100000; i++) {
                email(e, sizeof e, i, "SCHOOL.SCH.UK");
                email_filter_add(f, e, strlen(e));
        }
        is_int((long long) repeats_flagged(f, 100000, "school.sch.uk"), 100000, "every repeated email is flagged");
        is_int((long long) repeats_flagged(f, 100000, "School.Sch.UK"), 100000, "whatever the case of its letters");
        email_filter_free(f);

        /* Four times the rows expected: more false positives, no repeat missed. */
        f = email_filter_new(1000);
        for (size_t i = 0; i < 4000; i++) {
                email(e, sizeof e, i, "a.org");
                email_filter_add(f, e, strlen(e));
                if (i % 100 == 0)
                        email_filter_add(f, e, strlen(e));
        }
        size_t missed = 0;
        for (size_t i = 0; i < 4000; i += 100) {
                email(e, sizeof e, i, "a.org");
                missed += !email_filter_may_repeat(f, e, strlen(e));
        }
        is_int((long long) missed, 0, "an overfull filter still flags every repeat");
        email_filter_free(f);

        email_filter_free(NULL);
        ok(true, "email_filter_free(NULL) is a no-op");

        /* The exact set: every added email is in it, in any case, and no
         * other. */
        EmailSet *set = email_set_new();
        ok(set != NULL, "an email set");
        int added = 0;
        for (size_t i = 0; i < 50000; i += 2) {
                email(e, sizeof e, i, "set.org");
                added += email_set_add(set, e, strlen(e)) == 0;
        }
        is_int(added, 25000, "25000 emails added");
        email_set_seal(set);
        size_t found = 0, strangers = 0;
        for (size_t i = 0; i < 50000; i++) {
                email(e, sizeof e, i, i % 3 ? "set.org" : "SET.Org");
                if (email_set_has(set, e, strlen(e)))
                        *(i % 2 ? &strangers : &found) += 1;
        }
        is_int((long long) found, 25000, "every email added is found, whatever its case");
        is_int((long long) strangers, 0, "no email that was not added is found");
        email_set_free(set);
        set = email_set_new();
        email_set_seal(set);
        ok(!email_set_has(set, "a@b.org", 7), "an empty set holds nothing");
        email_set_free(set);
        email_set_free(NULL);
        return tap_done();
}
