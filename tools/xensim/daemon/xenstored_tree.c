/*
 * xenstored_tree.c - nodes, the path-keyed hash table, permissions and
 * path rules of xenstored (see xenstored_int.h).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "xenstored_int.h"

/* ---- permissions ---- */

static int perm_letter_bits(char c, uint32_t *bits)
{
    switch (c) {
    case 'n': *bits = XSD_PERM_NONE; return 0;
    case 'r': *bits = XSD_PERM_READ; return 0;
    case 'w': *bits = XSD_PERM_WRITE; return 0;
    case 'b': *bits = XSD_PERM_BOTH; return 0;
    default: return -EINVAL;
    }
}

static char perm_bits_letter(uint32_t bits)
{
    switch (bits & XSD_PERM_BOTH) {
    case XSD_PERM_READ: return 'r';
    case XSD_PERM_WRITE: return 'w';
    case XSD_PERM_BOTH: return 'b';
    default: return 'n';
    }
}

int perms_parse(const char *strings, uint32_t count, struct xsd_perms *out)
{
    if (count == 0)
        return -EINVAL;
    struct xsd_perm *p = calloc(count, sizeof(*p));
    if (!p)
        return -ENOMEM;
    const char *s = strings;
    for (uint32_t i = 0; i < count; i++) {
        char *end;
        if (perm_letter_bits(s[0], &p[i].bits) || s[1] < '0' || s[1] > '9')
            goto inval;
        errno = 0;
        unsigned long id = strtoul(s + 1, &end, 10);
        if (errno || *end || id > UINT32_MAX)
            goto inval;
        p[i].id = (uint32_t)id;
        s += strlen(s) + 1;
    }
    out->n = count;
    out->p = p;
    return 0;
inval:
    free(p);
    return -EINVAL;
}

int perms_format(const struct xsd_perms *perms, char *buf, size_t cap)
{
    size_t len = 0;
    for (uint32_t i = 0; i < perms->n; i++) {
        int n = snprintf(buf + len, cap - len, "%c%u", perm_bits_letter(perms->p[i].bits),
                         perms->p[i].id);
        if (n < 0 || (size_t)n + 1 > cap - len)
            return -E2BIG;
        len += (size_t)n + 1; /* keep the NUL */
    }
    return (int)len;
}

int perms_copy(struct xsd_perms *dst, const struct xsd_perms *src)
{
    dst->p = NULL;
    dst->n = 0;
    if (!src->n)
        return 0;
    dst->p = malloc(src->n * sizeof(*src->p));
    if (!dst->p)
        return -ENOMEM;
    memcpy(dst->p, src->p, src->n * sizeof(*src->p));
    dst->n = src->n;
    return 0;
}

void perms_free(struct xsd_perms *perms)
{
    free(perms->p);
    perms->p = NULL;
    perms->n = 0;
}

/* As xenstored's perm_for_conn: tools and owners get everything, then the
 * first ACL entry naming the domain (or its target), else the default. */
uint32_t perms_for(const struct xsd_actor *actor, const struct xsd_perms *perms)
{
    const uint32_t all = XSD_PERM_READ | XSD_PERM_WRITE | XSD_PERM_OWNER;
    if (actor->privileged || !perms->n)
        return actor->privileged ? all : XSD_PERM_NONE;
    uint32_t owner = perms->p[0].id;
    if (owner == actor->domid || (actor->has_target && owner == actor->target))
        return all;
    for (uint32_t i = 1; i < perms->n; i++) {
        uint32_t id = perms->p[i].id;
        if (id == actor->domid || (actor->has_target && id == actor->target))
            return perms->p[i].bits & XSD_PERM_BOTH;
    }
    return perms->p[0].bits & XSD_PERM_BOTH;
}

/* ---- paths ---- */

static bool valid_chars(const char *path)
{
    static const char ok[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                             "0123456789-/_@";
    return path[strspn(path, ok)] == '\0';
}

bool path_is_special(const char *path)
{
    return path[0] == '@';
}

int path_canonical(const struct xsd_actor *actor, const char *in, bool allow_special,
                   char *out, size_t cap)
{
    size_t len = strlen(in);
    if (in[0] == '@') {
        if (!allow_special || xsd_special_index(in) < 0 || len >= cap)
            return -EINVAL;
        memcpy(out, in, len + 1);
        return 0;
    }
    if (in[0] == '/') {
        if (len > XENSTORE_ABS_PATH_MAX || len >= cap)
            return -EINVAL;
        memcpy(out, in, len + 1);
    } else {
        if (len > XENSTORE_REL_PATH_MAX)
            return -EINVAL;
        int n = snprintf(out, cap, "/local/domain/%u/%s", actor->domid, in);
        if (n < 0 || (size_t)n >= cap || n > XENSTORE_ABS_PATH_MAX)
            return -EINVAL;
        len = (size_t)n;
    }
    if (len > 1 && out[len - 1] == '/')
        return -EINVAL;
    if (strstr(out, "//") || !valid_chars(out))
        return -EINVAL;
    return 0;
}

void path_parent(const char *path, char *out)
{
    const char *slash = strrchr(path, '/');
    size_t len = slash && slash != path ? (size_t)(slash - path) : 1;
    memmove(out, path, len);
    out[len] = '\0';
}

const char *path_basename(const char *path)
{
    const char *slash = strrchr(path, '/');
    return slash ? slash + 1 : path;
}

bool path_is_below(const char *child, const char *parent)
{
    if (strcmp(parent, "/") == 0)
        return child[0] == '/';
    size_t len = strlen(parent);
    return strncmp(child, parent, len) == 0 && (child[len] == '/' || child[len] == '\0');
}

void path_domain(domid_t domid, char *out, size_t cap)
{
    snprintf(out, cap, "/local/domain/%u", domid);
}

/* ---- nodes ---- */

struct xsd_node *node_new(const char *path)
{
    struct xsd_node *node = calloc(1, sizeof(*node));
    if (!node)
        return NULL;
    node->path = strdup(path);
    if (!node->path) {
        free(node);
        errno = ENOMEM;
        return NULL;
    }
    return node;
}

void node_clear(struct xsd_node *node)
{
    free(node->value);
    node->value = NULL;
    node->vlen = 0;
    perms_free(&node->perms);
    for (uint32_t i = 0; i < node->nchildren; i++)
        free(node->children[i]);
    free(node->children);
    node->children = NULL;
    node->nchildren = node->cap_children = 0;
}

void node_free(struct xsd_node *node)
{
    if (!node)
        return;
    node_clear(node);
    free(node->path);
    free(node);
}

int node_set_value(struct xsd_node *node, const void *value, uint32_t len)
{
    char *copy = malloc(len + 1u);
    if (!copy)
        return -ENOMEM;
    if (len)
        memcpy(copy, value, len);
    copy[len] = '\0';
    free(node->value);
    node->value = copy;
    node->vlen = len;
    return 0;
}

int node_add_child(struct xsd_node *node, const char *name)
{
    if (node->nchildren == node->cap_children) {
        uint32_t cap = node->cap_children ? node->cap_children * 2 : 4;
        char **c = realloc(node->children, cap * sizeof(*c));
        if (!c)
            return -ENOMEM;
        node->children = c;
        node->cap_children = cap;
    }
    char *copy = strdup(name);
    if (!copy)
        return -ENOMEM;
    node->children[node->nchildren++] = copy;
    return 0;
}

void node_del_child(struct xsd_node *node, const char *name)
{
    for (uint32_t i = 0; i < node->nchildren; i++) {
        if (strcmp(node->children[i], name) == 0) {
            free(node->children[i]);
            memmove(&node->children[i], &node->children[i + 1],
                    (node->nchildren - i - 1) * sizeof(*node->children));
            node->nchildren--;
            return;
        }
    }
}

size_t node_children_bytes(const struct xsd_node *node)
{
    size_t n = 0;
    for (uint32_t i = 0; i < node->nchildren; i++)
        n += strlen(node->children[i]) + 1;
    return n;
}

int node_copy_contents(struct xsd_node *dst, const struct xsd_node *src)
{
    node_clear(dst);
    if (src->value && node_set_value(dst, src->value, src->vlen))
        goto nomem;
    if (perms_copy(&dst->perms, &src->perms))
        goto nomem;
    if (src->nchildren) {
        dst->children = calloc(src->nchildren, sizeof(*dst->children));
        if (!dst->children)
            goto nomem;
        dst->cap_children = src->nchildren;
        for (uint32_t i = 0; i < src->nchildren; i++) {
            dst->children[i] = strdup(src->children[i]);
            if (!dst->children[i])
                goto nomem;
            dst->nchildren++;
        }
    }
    return 0;
nomem:
    node_clear(dst);
    return -ENOMEM;
}

void node_move_contents(struct xsd_node *dst, struct xsd_node *src)
{
    node_clear(dst);
    dst->value = src->value;
    dst->vlen = src->vlen;
    dst->perms = src->perms;
    dst->children = src->children;
    dst->nchildren = src->nchildren;
    dst->cap_children = src->cap_children;
    src->value = NULL;
    src->vlen = 0;
    src->perms.p = NULL;
    src->perms.n = 0;
    src->children = NULL;
    src->nchildren = src->cap_children = 0;
}

/* ---- hash table ---- */

static uint32_t path_hash(const char *s)
{
    uint32_t h = 2166136261u;
    while (*s)
        h = (h ^ (uint8_t)*s++) * 16777619u;
    return h;
}

int tree_init(struct xsd_tree *t)
{
    t->nbuckets = 64;
    t->count = 0;
    t->buckets = calloc(t->nbuckets, sizeof(*t->buckets));
    return t->buckets ? 0 : -ENOMEM;
}

void tree_fini(struct xsd_tree *t)
{
    for (size_t i = 0; i < t->nbuckets; i++) {
        struct xsd_node *n = t->buckets[i];
        while (n) {
            struct xsd_node *next = n->hnext;
            node_free(n);
            n = next;
        }
    }
    free(t->buckets);
    t->buckets = NULL;
    t->nbuckets = t->count = 0;
}

struct xsd_node *tree_lookup(const struct xsd_tree *t, const char *path)
{
    uint32_t h = path_hash(path);
    for (struct xsd_node *n = t->buckets[h & (t->nbuckets - 1)]; n; n = n->hnext)
        if (n->hash == h && strcmp(n->path, path) == 0)
            return n;
    return NULL;
}

/* Growing is best effort: without memory the chains just get longer. */
static void tree_grow(struct xsd_tree *t)
{
    size_t nb = t->nbuckets * 2;
    struct xsd_node **b = calloc(nb, sizeof(*b));
    if (!b)
        return;
    for (size_t i = 0; i < t->nbuckets; i++) {
        struct xsd_node *n = t->buckets[i];
        while (n) {
            struct xsd_node *next = n->hnext;
            n->hnext = b[n->hash & (nb - 1)];
            b[n->hash & (nb - 1)] = n;
            n = next;
        }
    }
    free(t->buckets);
    t->buckets = b;
    t->nbuckets = nb;
}

void tree_insert(struct xsd_tree *t, struct xsd_node *node)
{
    if (t->count >= t->nbuckets)
        tree_grow(t);
    node->hash = path_hash(node->path);
    struct xsd_node **head = &t->buckets[node->hash & (t->nbuckets - 1)];
    node->hnext = *head;
    *head = node;
    t->count++;
}

struct xsd_node *tree_unlink(struct xsd_tree *t, const char *path)
{
    uint32_t h = path_hash(path);
    for (struct xsd_node **pp = &t->buckets[h & (t->nbuckets - 1)]; *pp; pp = &(*pp)->hnext) {
        struct xsd_node *n = *pp;
        if (n->hash == h && strcmp(n->path, path) == 0) {
            *pp = n->hnext;
            n->hnext = NULL;
            t->count--;
            return n;
        }
    }
    return NULL;
}
