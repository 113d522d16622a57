/* test_authz.c -- the authorization decision table. Nine principals (owner, same-domain
 * member, domain-owner group, allowed domain, allowed sub-domain, tag-granted, other
 * domain, admin, anonymous) x 3 visibilities x 5 actions; every expected answer is
 * written out by hand in ORACLE below, never computed by the code under test. Then
 * ACL construction from descriptors (defaults, product-level union, the DESIGN 3A
 * request, unknown ports). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "dmp/auth.h"

/* The product: domain london.hammersmith.olympia, owner "olivia"; the port allows
 * "finance" and carries the tag grant-access:marketing. */
static const char *DOMAIN = "london.hammersmith.olympia";

typedef struct who {
    const char *label;
    const char *name;
    const char *groups[3];
    int admin;
} who_t;

static const who_t WHO[] = {
    {"owner", "olivia", {"team-x"}, 0},
    {"member", "mia", {"london.hammersmith"}, 0},       /* a parent domain: owner group */
    {"domowner", "dora", {"domain-owner:london"}, 0},   /* explicit owner group */
    {"allowed", "alan", {"finance"}, 0},                /* named in allow[] */
    {"subdomain", "sam", {"finance.payments"}, 0},      /* inside an allowed domain */
    {"tagged", "tina", {"marketing"}, 0},               /* grant-access:marketing tag */
    {"other", "oscar", {"paris", "london.chelsea"}, 0}, /* another domain, a sibling */
    {"admin", "ada", {NULL}, 1},
    {"anonymous", NULL, {NULL}, 0},
};
#define NWHO (sizeof(WHO) / sizeof(WHO[0]))

/* Actions in this column order: */
static const dmp_action_t ACTS[] = {DMP_ACT_READ, DMP_ACT_APPLY, DMP_ACT_DELETE, DMP_ACT_PUBLISH,
                                    DMP_ACT_ADMIN};
/* Codes: OK allowed, DN denied (403), NF not found (404), UA unauthenticated (401). */
typedef struct row {
    const char *who;
    const char *vis;
    const char *expect; /* five codes, one per action above */
} row_t;

static const row_t ORACLE[] = {
    /*  who          visibility    read apply delete publish admin */
    {"owner", "public", "OK OK OK OK DN"},
    {"owner", "protected", "OK OK OK OK DN"},
    {"owner", "private", "OK OK OK OK DN"},
    {"member", "public", "OK OK OK OK DN"},
    {"member", "protected", "OK OK OK OK DN"},
    {"member", "private", "OK OK OK OK DN"},
    {"domowner", "public", "OK OK OK OK DN"},
    {"domowner", "protected", "OK OK OK OK DN"},
    {"domowner", "private", "OK OK OK OK DN"},
    {"allowed", "public", "OK DN DN DN DN"},
    {"allowed", "protected", "OK DN DN DN DN"},
    {"allowed", "private", "NF NF NF NF NF"},
    {"subdomain", "public", "OK DN DN DN DN"},
    {"subdomain", "protected", "OK DN DN DN DN"},
    {"subdomain", "private", "NF NF NF NF NF"},
    {"tagged", "public", "OK DN DN DN DN"},
    {"tagged", "protected", "OK DN DN DN DN"},
    {"tagged", "private", "NF NF NF NF NF"},
    {"other", "public", "OK DN DN DN DN"},
    {"other", "protected", "NF NF NF NF NF"},
    {"other", "private", "NF NF NF NF NF"},
    {"admin", "public", "OK OK OK OK OK"},
    {"admin", "protected", "OK OK OK OK OK"},
    {"admin", "private", "OK OK OK OK OK"},
    {"anonymous", "public", "UA UA UA UA UA"},
    {"anonymous", "protected", "UA UA UA UA UA"},
    {"anonymous", "private", "UA UA UA UA UA"},
};

static int code_of(const char *c)
{
    if (!strncmp(c, "OK", 2))
        return DMP_OK;
    if (!strncmp(c, "DN", 2))
        return DMP_DENIED;
    if (!strncmp(c, "NF", 2))
        return DMP_NOTFOUND;
    if (!strncmp(c, "UA", 2))
        return DMP_UNAUTHENTICATED;
    fail_msg("bad oracle code %s", c);
    return 1;
}

static dmp_principal_t *principal_of(const char *label)
{
    for (size_t i = 0; i < NWHO; i++) {
        if (strcmp(WHO[i].label, label) != 0)
            continue;
        if (WHO[i].name == NULL)
            return NULL;
        size_t n = 0;
        while (n < 3 && WHO[i].groups[n])
            n++;
        return dmp_principal_new(WHO[i].name, WHO[i].groups, n, WHO[i].admin);
    }
    fail_msg("no principal %s", label);
    return NULL;
}

static void acl_for(const char *vis, dmp_acl_t *acl)
{
    char *doc = dmp_asprintf(
        "{\"name\":\"orders\",\"domain\":\"%s\",\"owner\":\"olivia\",\"outputPorts\":["
        "{\"name\":\"events\",\"type\":\"stream\",\"visibility\":\"%s\","
        "\"allow\":[\"finance\"],\"tags\":[\"grant-access:marketing\"]}]}",
        DOMAIN, vis);
    json_t *j = json_loads(doc, 0, NULL);
    assert_non_null(j);
    assert_int_equal(dmp_acl_from_json(j, "events", acl, NULL), DMP_OK);
    json_decref(j);
    dmp_free(doc);
}

static void test_matrix(void **state)
{
    size_t checked = 0;
    for (size_t r = 0; r < sizeof(ORACLE) / sizeof(ORACLE[0]); r++) {
        dmp_acl_t acl;
        acl_for(ORACLE[r].vis, &acl);
        dmp_principal_t *p = principal_of(ORACLE[r].who);
        for (size_t a = 0; a < 5; a++) {
            int want = code_of(ORACLE[r].expect + 3 * a);
            dmp_error_t err = {0};
            int got = dmp_authz_check(p, &acl, ACTS[a], &err);
            if (got != want)
                fail_msg("%s on a %s port, %s: expected %s, got %s (%s)", ORACLE[r].who,
                         ORACLE[r].vis, dmp_action_name(ACTS[a]), dmp_errname(want),
                         dmp_errname(got), err.msg);
            if (got != DMP_OK)
                assert_true(err.msg[0] != '\0');
            checked++;
        }
        dmp_principal_free(p);
        dmp_acl_fini(&acl);
    }
    assert_int_equal(checked, NWHO * 3 * 5);
}

static void test_mesh_wide_admin(void **state)
{
    dmp_principal_t *u = principal_of("owner"), *ad = principal_of("admin");
    assert_int_equal(dmp_authz_check(u, NULL, DMP_ACT_ADMIN, NULL), DMP_DENIED);
    assert_int_equal(dmp_authz_check(ad, NULL, DMP_ACT_ADMIN, NULL), DMP_OK);
    assert_int_equal(dmp_authz_check(NULL, NULL, DMP_ACT_ADMIN, NULL), DMP_UNAUTHENTICATED);
    dmp_principal_free(u);
    dmp_principal_free(ad);
}

static void test_domain_rule_edges(void **state)
{
    dmp_acl_t acl;
    acl_for("private", &acl);
    /* a group that merely starts with the domain's text is not a parent domain */
    const char *g1[] = {"lond"};
    const char *g2[] = {"london.hammer"};
    const char *g3[] = {"london.hammersmith.olympia.extra"}; /* a child, not a parent */
    const char *g4[] = {"domain-owner:london.hammersmith.olympia"};
    const char *g5[] = {"domain-owner:"};
    struct {
        const char **g;
        int owner;
    } cases[] = {{g1, 0}, {g2, 0}, {g3, 0}, {g4, 1}, {g5, 0}};
    for (size_t i = 0; i < 5; i++) {
        dmp_principal_t *p = dmp_principal_new("x", cases[i].g, 1, 0);
        if (dmp_authz_is_owner(p, &acl) != cases[i].owner)
            fail_msg("group %s: owner expected %d", cases[i].g[0], cases[i].owner);
        dmp_principal_free(p);
    }
    /* the owner named as a group */
    const char *gt[] = {"olivia"};
    dmp_principal_t *p = dmp_principal_new("someone", gt, 1, 0);
    assert_true(dmp_authz_is_owner(p, &acl));
    dmp_principal_free(p);
    /* an explicit owner group */
    acl.owner_group = dmp_strdup("orders-team");
    const char *go[] = {"orders-team"};
    p = dmp_principal_new("z", go, 1, 0);
    assert_int_equal(dmp_authz_check(p, &acl, DMP_ACT_PUBLISH, NULL), DMP_OK);
    dmp_principal_free(p);
    dmp_acl_fini(&acl);
}

static const char *REQ_3A =
    "{\"name\":\"test_name\",\"domain\":\"test_domain\",\"version\":\"1.0.1\","
    "\"environment\":{\"name\":\"test\",\"specific\":{}},\"outputPorts\":[{\"name\":\"test_s3\","
    "\"resourceType\":\"raw\",\"technology\":\"s3cdp\",\"description\":\"my s3 directory\","
    "\"allow\":[\"dmp-test-1\",\"dmp-test-2\"],\"owner\":\"dmp-test-owner\",\"specific\":"
    "{\"directory\":\"test_dir/full\",\"bucket\":\"ms-datamesh-s3\"},\"dependsOn\":[]}],"
    "\"workloads\":[],\"observability\":[]}";

static void test_acl_from_3a(void **state)
{
    json_t *j = json_loads(REQ_3A, 0, NULL);
    dmp_acl_t acl;
    assert_int_equal(dmp_acl_from_json(j, NULL, &acl, NULL), DMP_OK);
    /* no visibility + allow[] -> protected; the port owner owns the product */
    assert_int_equal(acl.visibility, DMP_VIS_PROTECTED);
    assert_int_equal(acl.n_owners, 1);
    assert_string_equal(acl.owners[0], "dmp-test-owner");
    dmp_principal_t *own = dmp_principal_new("dmp-test-owner", NULL, 0, 0);
    dmp_principal_t *rd = dmp_principal_new("dmp-test-1", NULL, 0, 0);
    dmp_principal_t *no = dmp_principal_new("dmp-test-3", NULL, 0, 0);
    assert_int_equal(dmp_authz_check(own, &acl, DMP_ACT_APPLY, NULL), DMP_OK);
    assert_int_equal(dmp_authz_check(own, &acl, DMP_ACT_DELETE, NULL), DMP_OK);
    assert_int_equal(dmp_authz_check(rd, &acl, DMP_ACT_READ, NULL), DMP_OK);
    assert_int_equal(dmp_authz_check(rd, &acl, DMP_ACT_APPLY, NULL), DMP_DENIED);
    assert_int_equal(dmp_authz_check(no, &acl, DMP_ACT_READ, NULL), DMP_NOTFOUND);
    assert_int_equal(dmp_authz_check(no, &acl, DMP_ACT_DELETE, NULL), DMP_NOTFOUND);
    dmp_acl_fini(&acl);
    dmp_error_t err = {0};
    assert_int_equal(dmp_acl_from_json(j, "nope", &acl, &err), DMP_NOTFOUND);
    assert_non_null(strstr(err.msg, "nope"));
    dmp_principal_free(own);
    dmp_principal_free(rd);
    dmp_principal_free(no);
    json_decref(j);
}

static void test_acl_product_union(void **state)
{
    const char *doc =
        "{\"domain\":\"d\",\"owner\":\"top\",\"tags\":[\"t0\"],\"outputPorts\":["
        "{\"name\":\"a\",\"visibility\":\"private\",\"owner\":\"pa\"},"
        "{\"name\":\"b\",\"visibility\":\"public\",\"allow\":[\"x\"],\"tags\":[\"t1\"]},"
        "{\"name\":\"c\"}]}";
    json_t *j = json_loads(doc, 0, NULL);
    dmp_acl_t acl;
    assert_int_equal(dmp_acl_from_json(j, NULL, &acl, NULL), DMP_OK);
    assert_int_equal(acl.visibility, DMP_VIS_PUBLIC);
    assert_int_equal(acl.n_owners, 2);
    assert_int_equal(acl.n_allow, 1);
    assert_int_equal(acl.n_tags, 2);
    dmp_acl_fini(&acl);
    /* port c: no visibility, no allow -> private */
    assert_int_equal(dmp_acl_from_json(j, "c", &acl, NULL), DMP_OK);
    assert_int_equal(acl.visibility, DMP_VIS_PRIVATE);
    assert_int_equal(acl.n_owners, 1); /* the product owner only */
    dmp_acl_fini(&acl);
    /* port a: its own owner and the product's */
    assert_int_equal(dmp_acl_from_json(j, "a", &acl, NULL), DMP_OK);
    assert_int_equal(acl.n_owners, 2);
    dmp_principal_t *pa = dmp_principal_new("pa", NULL, 0, 0);
    assert_int_equal(dmp_authz_check(pa, &acl, DMP_ACT_PUBLISH, NULL), DMP_OK);
    dmp_principal_free(pa);
    dmp_acl_fini(&acl);
    json_decref(j);
    /* not an object */
    json_t *s = json_string("x");
    assert_int_equal(dmp_acl_from_json(s, NULL, &acl, NULL), DMP_INVALID);
    json_decref(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_matrix),
        cmocka_unit_test(test_mesh_wide_admin),
        cmocka_unit_test(test_domain_rule_edges),
        cmocka_unit_test(test_acl_from_3a),
        cmocka_unit_test(test_acl_product_union),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
