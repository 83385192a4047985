/*
 * tree_test.c - pure parts of xensim's xenstored: path rules, permission
 * text and evaluation, the node hash table.  Includes the .c under test
 * (test binaries do not link the daemon's objects).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "daemon/xenstored_tree.c"

/* The one symbol xenstored_tree.c takes from xenstored.c. */
int xsd_special_index(const char *name)
{
    if (strcmp(name, "@introduceDomain") == 0)
        return 0;
    return strcmp(name, "@releaseDomain") == 0 ? 1 : -1;
}

static const struct xsd_actor dom0 = { .domid = 0, .privileged = true };
static const struct xsd_actor dom5 = { .domid = 5 };

static int canon(const struct xsd_actor *a, const char *in, bool special, char *out)
{
    return path_canonical(a, in, special, out, XENSTORE_ABS_PATH_MAX + 1);
}

static void test_paths(void **state)
{
    (void)state;
    char out[XENSTORE_ABS_PATH_MAX + 1];
    assert_int_equal(canon(&dom5, "device/vif/0", false, out), 0);
    assert_string_equal(out, "/local/domain/5/device/vif/0");
    assert_int_equal(canon(&dom0, "/", false, out), 0);
    assert_string_equal(out, "/");
    assert_int_equal(canon(&dom0, "/a/", false, out), -EINVAL);
    assert_int_equal(canon(&dom0, "/a//b", false, out), -EINVAL);
    assert_int_equal(canon(&dom0, "/a b", false, out), -EINVAL);
    assert_int_equal(canon(&dom0, "/a-b_c@d", false, out), 0);
    assert_int_equal(canon(&dom5, "", false, out), -EINVAL);
    assert_int_equal(canon(&dom0, "@introduceDomain", false, out), -EINVAL);
    assert_int_equal(canon(&dom0, "@introduceDomain", true, out), 0);
    assert_int_equal(canon(&dom0, "@other", true, out), -EINVAL);

    static char longp[XENSTORE_ABS_PATH_MAX + 2];
    memset(longp, 'a', sizeof(longp) - 1);
    longp[0] = '/';
    assert_int_equal(canon(&dom0, longp, false, out), -EINVAL);
    longp[XENSTORE_ABS_PATH_MAX] = '\0';
    assert_int_equal(canon(&dom0, longp, false, out), 0);

    char p[32] = "/a/b/c";
    path_parent(p, p);
    assert_string_equal(p, "/a/b");
    snprintf(p, sizeof(p), "/a");
    path_parent(p, p);
    assert_string_equal(p, "/");
    assert_string_equal(path_basename("/a/b/c"), "c");
    assert_true(path_is_below("/a/b", "/a"));
    assert_true(path_is_below("/a", "/a"));
    assert_false(path_is_below("/ab", "/a"));
    assert_true(path_is_below("/x", "/"));
    assert_false(path_is_below("@introduceDomain", "/"));
}

static void test_perms_text(void **state)
{
    (void)state;
    struct xsd_perms perms;
    const char in[] = "n5\0r0\0b7\0w9";
    assert_int_equal(perms_parse(in, 4, &perms), 0);
    assert_int_equal(perms.n, 4);
    assert_int_equal(perms.p[0].id, 5);
    assert_int_equal(perms.p[0].bits, XSD_PERM_NONE);
    assert_int_equal(perms.p[2].bits, XSD_PERM_BOTH);
    char buf[64];
    int len = perms_format(&perms, buf, sizeof(buf));
    assert_int_equal(len, (int)sizeof(in));
    assert_memory_equal(buf, in, sizeof(in));
    assert_int_equal(perms_format(&perms, buf, 5), -E2BIG);
    perms_free(&perms);

    assert_int_equal(perms_parse("x5", 1, &perms), -EINVAL);
    assert_int_equal(perms_parse("r", 1, &perms), -EINVAL);
    assert_int_equal(perms_parse("r5z", 1, &perms), -EINVAL);
    assert_int_equal(perms_parse("r99999999999", 1, &perms), -EINVAL);
}

static void test_perms_eval(void **state)
{
    (void)state;
    struct xsd_perm p[3] = { { 7, XSD_PERM_READ }, { 5, XSD_PERM_WRITE }, { 5, XSD_PERM_BOTH } };
    struct xsd_perms perms = { 3, p };
    const uint32_t all = XSD_PERM_READ | XSD_PERM_WRITE | XSD_PERM_OWNER;
    assert_int_equal(perms_for(&dom0, &perms), all);
    assert_int_equal(perms_for(&dom5, &perms), XSD_PERM_WRITE); /* first ACL match */
    struct xsd_actor dom6 = { .domid = 6 };
    assert_int_equal(perms_for(&dom6, &perms), XSD_PERM_READ); /* the default */
    struct xsd_actor dom7 = { .domid = 7 };
    assert_int_equal(perms_for(&dom7, &perms), all); /* owner */
    struct xsd_actor stub = { .domid = 9, .has_target = true, .target = 7 };
    assert_int_equal(perms_for(&stub, &perms), all); /* target's rights */
}

static void test_hash_table(void **state)
{
    (void)state;
    struct xsd_tree t;
    assert_int_equal(tree_init(&t), 0);
    char path[32];
    for (int i = 0; i < 1000; i++) {
        snprintf(path, sizeof(path), "/n/%d", i);
        struct xsd_node *n = node_new(path);
        assert_non_null(n);
        tree_insert(&t, n);
    }
    assert_int_equal(t.count, 1000);
    assert_true(t.nbuckets >= 1000);
    assert_non_null(tree_lookup(&t, "/n/999"));
    assert_null(tree_lookup(&t, "/n/1000"));
    node_free(tree_unlink(&t, "/n/500"));
    assert_null(tree_lookup(&t, "/n/500"));
    assert_non_null(tree_lookup(&t, "/n/501"));
    assert_int_equal(t.count, 999);

    struct xsd_node *n = tree_lookup(&t, "/n/1");
    assert_int_equal(node_add_child(n, "a"), 0);
    assert_int_equal(node_add_child(n, "bb"), 0);
    assert_int_equal(node_add_child(n, "c"), 0);
    node_del_child(n, "bb");
    assert_int_equal(n->nchildren, 2);
    assert_string_equal(n->children[1], "c");
    assert_int_equal(node_children_bytes(n), 4);
    tree_fini(&t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_paths),
        cmocka_unit_test(test_perms_text),
        cmocka_unit_test(test_perms_eval),
        cmocka_unit_test(test_hash_table),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
