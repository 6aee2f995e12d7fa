/* Unit tests for common/core/urn_set.h: what is added is held, nothing else
 * is, a full set adds nothing more, and clearing empties it. */
#include "tap.h"
#include "urn_set.h"

int main(void) {
        UrnSet *s = urn_set_new(1000);
        ok(s != NULL, "a set of 1000 URNs");
        ok(!urn_set_has(s, 100001), "an empty set holds nothing");

        for (int64_t u = 100000; u < 101000; u++)
                urn_set_add(s, u * 7);
        ok(urn_set_count(s) == 1000, "1000 distinct URNs added");
        size_t held = 0, stray = 0;
        for (int64_t u = 100000; u < 101000; u++) {
                held += urn_set_has(s, u * 7);
                stray += urn_set_has(s, u * 7 + 1);
        }
        ok(held == 1000, "every URN added is held");
        ok(stray == 0, "no URN that was not added is held");

        urn_set_add(s, 100000 * 7);
        ok(urn_set_count(s) == 1000, "adding a URN again counts it once");
        urn_set_add(s, 5);
        ok(!urn_set_has(s, 5) && urn_set_count(s) == 1000, "a full set takes no more");

        urn_set_add(s, 0);
        urn_set_add(s, -3);
        urn_set_add(s, (int64_t) 1 << 40);
        ok(!urn_set_has(s, 0) && !urn_set_has(s, -3) && !urn_set_has(s, (int64_t) 1 << 40),
           "zero, negative and out-of-range URNs are never held");

        urn_set_clear(s);
        ok(urn_set_count(s) == 0 && !urn_set_has(s, 100000 * 7), "a cleared set holds nothing");
        urn_set_add(s, 5);
        ok(urn_set_has(s, 5), "a cleared set takes URNs again");
        urn_set_free(s);

        ok(!urn_set_has(NULL, 5), "no set holds nothing");
        urn_set_add(NULL, 5);
        urn_set_free(NULL);
        return tap_done();
}
