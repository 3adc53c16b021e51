/* spec_item.c -- an item rule of a spec: where a document's _id comes from, its fields, and how a page becomes the document. */
#include "spec_item.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "parse_json.h"
#include "zc_utf8.h"

/* ---------- loading ---------- */

void spec_item_rule_free(spec_item_rule *r) {
    spec_path_free(&r->root);
    spec_path_free(&r->id_from);
    free(r->id_same_as);
    spec_tpl_free(&r->id_tpl);
    spec_fields_free(r->fields, r->nfields);
    free(r->source_url_key);
    free(r->fetched_at_key);
    spec_path_free(&r->gone_if);
    for (int i = 0; i < r->nfollow; i++) {
        spec_path_free(&r->follow[i].from);
        spec_tpl_free(&r->follow[i].url);
    }
    memset(r, 0, sizeof(*r));
}

/* source_url / fetched_at: absent means the default key, null means none. */
static int meta_key(spec_loader *L, const char *jp, const cJSON *o, const char *key, const char **out) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    char sub[SPEC_JP_MAX];
    if (spec_ld_jp(L, sub, sizeof(sub), "%s.%s", jp, key) != 0) return -1;
    if (!v) *out = key;
    else if (cJSON_IsNull(v)) *out = NULL;
    else if (cJSON_IsString(v) && v->valuestring && *v->valuestring && v->valuestring[0] != '$' &&
             !strchr(v->valuestring, '.') && strcmp(v->valuestring, "_id") != 0)
        *out = v->valuestring;
    else return spec_ld_fail(L, sub, "must be a document key, or null to leave it out");
    return 0;
}

/* same_as: the name of a capture that every one of the page's patterns has. */
static int same_as_compile(spec_loader *L, const char *jp, const char *same, const spec_pattern *pat, int npat,
                           spec_item_rule *r) {
    int found = 0;
    char s2[SPEC_JP_MAX + 20];
    snprintf(s2, sizeof(s2), "%s.same_as", jp);
    if (npat == SPEC_ITEM_OF_LIST) return spec_ld_fail(L, s2, "a list's item has no URL of its own to compare with");
    for (int i = 0; i < npat; i++)
        for (int k = 0; k < pat[i].n; k++)
            if (pat[i].p[k].kind == SPEC_PP_CAP && strcmp(pat[i].p[k].s, same) == 0) found++;
    if (found < npat) return spec_ld_fail(L, s2, "'%.40s' is not a capture of every match pattern", same);
    if (!(r->id_same_as = spec_ld_strdup(L, same))) return -1;
    return 0;
}

/* "id": {"from": PATH, "type": "string"|"digits", "same_as": CAPTURE} or {"template": ...}. */
static int id_compile(spec_loader *L, const char *sub, const cJSON *id, const spec_pattern *pat, int npat,
                      spec_item_rule *r) {
    static const char *const idkeys[] = { "from", "type", "same_as", "template", NULL };
    if (!id) return spec_ld_fail(L, sub, "missing (where the document's _id comes from)");
    if (!cJSON_IsObject(id)) return spec_ld_fail(L, sub, "must be an object: {\"from\": \"id\"} or {\"template\": \"...\"}");
    if (spec_ld_keys(L, sub, id, idkeys) != 0) return -1;
    const char *from, *type, *same, *tmpl;
    if (spec_ld_str(L, sub, id, "from", &from) || spec_ld_str(L, sub, id, "type", &type) ||
        spec_ld_str(L, sub, id, "same_as", &same) || spec_ld_str(L, sub, id, "template", &tmpl))
        return -1;
    if (!!from == !!tmpl) return spec_ld_fail(L, sub, "needs exactly one of from and template");
    char s2[SPEC_JP_MAX + 20];
    if (from) {
        r->id_kind = SPEC_ID_FIELD;
        snprintf(s2, sizeof(s2), "%s.from", sub);
        if (spec_path_compile(L, s2, from, &r->id_from) != 0) return -1;
        snprintf(s2, sizeof(s2), "%s.type", sub);
        if (!type || strcmp(type, "string") == 0) r->id_digits = 0;
        else if (strcmp(type, "digits") == 0) r->id_digits = 1;
        else return spec_ld_fail(L, s2, "unknown id type '%.40s' (string or digits)", type);
    } else {
        r->id_kind = SPEC_ID_TEMPLATE;
        snprintf(s2, sizeof(s2), "%s.template", sub);
        if (type) return spec_ld_fail(L, sub, "type goes with from, not with template");
        if (spec_tpl_compile(L, s2, tmpl, SPEC_TPC_ID, &r->id_tpl) != 0) return -1;
    }
    return same ? same_as_compile(L, sub, same, pat, npat, r) : 0;
}

/* One "follow" rule: {"from": PATH, "url": TEMPLATE}. */
static int follow1_compile(spec_loader *L, const char *jp, const cJSON *o, spec_follow *fw) {
    static const char *const keys[] = { "from", "url", NULL };
    const char *url;
    char sub[SPEC_JP_MAX];
    if (!cJSON_IsObject(o)) return spec_ld_fail(L, jp, "must be an object such as {\"from\": \"kids\", \"url\": \"{origin}/item/{.}\"}");
    if (spec_ld_keys(L, jp, o, keys) != 0) return -1;
    if (spec_path_member(L, jp, o, "from", 1, &fw->from) != 0) return -1;
    if (spec_ld_str(L, jp, o, "url", &url) != 0) return -1;
    if (spec_ld_jp(L, sub, sizeof(sub), "%s.url", jp) != 0) return -1;
    if (!url) return spec_ld_fail(L, sub, "missing (a template such as \"{origin}/item/{.}\")");
    if (spec_tpl_compile(L, sub, url, SPEC_TPC_ITEM_URL, &fw->url) != 0) return -1;
    if (!spec_tpl_uses(&fw->url, SPEC_TP_FIELD)) return spec_ld_fail(L, sub, "the template names no field of the value ({.} is the value itself)");
    return 0;
}

/* "follow": one rule or a list of 1 to SPEC_MAX_FOLLOW. */
static int follow_compile(spec_loader *L, const char *jp, const cJSON *o, spec_item_rule *r) {
    char sub[SPEC_JP_MAX];
    if (spec_ld_jp(L, sub, sizeof(sub), "%s.follow", jp) != 0) return -1;
    if (!cJSON_IsArray(o)) {
        r->nfollow = 1;
        return follow1_compile(L, sub, o, &r->follow[0]);
    }
    int n = cJSON_GetArraySize(o), i = 0;
    if (n < 1 || n > SPEC_MAX_FOLLOW) return spec_ld_fail(L, sub, "a rule or a list of 1 to %d rules", SPEC_MAX_FOLLOW);
    const cJSON *e;
    cJSON_ArrayForEach(e, o) {
        char s2[SPEC_JP_MAX + 16];
        snprintf(s2, sizeof(s2), "%s[%d]", sub, i);
        r->nfollow = i + 1;
        if (follow1_compile(L, s2, e, &r->follow[i]) != 0) return -1;
        i++;
    }
    return 0;
}

int spec_item_compile(spec_loader *L, const char *jp, const cJSON *o, const spec_pattern *pat, int npat,
                      spec_item_rule *r) {
    static const char *const keys[] = { "root", "id", "fields", "source_url", "fetched_at", "gone_if", "follow", NULL };
    static const char *const list_keys[] = { "root", "id", "fields", "source_url", "fetched_at", NULL };
    char sub[SPEC_JP_MAX];
    if (!cJSON_IsObject(o)) return spec_ld_fail(L, jp, "must be an object");
    if (spec_ld_keys(L, jp, o, npat == SPEC_ITEM_OF_LIST ? list_keys : keys) != 0) return -1;
    if (spec_path_member(L, jp, o, "gone_if", 0, &r->gone_if) != 0) return -1;
    const cJSON *fw = cJSON_GetObjectItemCaseSensitive(o, "follow");
    if (fw && follow_compile(L, jp, fw, r) != 0) return -1;
    if (spec_path_member(L, jp, o, "root", 0, &r->root) != 0) return -1;
    if (spec_ld_jp(L, sub, sizeof(sub), "%s.id", jp) != 0) return -1;
    if (id_compile(L, sub, cJSON_GetObjectItemCaseSensitive(o, "id"), pat, npat, r) != 0) return -1;
    if (spec_ld_jp(L, sub, sizeof(sub), "%s.fields", jp) != 0) return -1;
    const cJSON *f = cJSON_GetObjectItemCaseSensitive(o, "fields");
    if (!f) return spec_ld_fail(L, sub, "missing (the fields the document keeps)");
    if (spec_fields_compile(L, sub, f, &r->fields, &r->nfields, 0) != 0) return -1;
    const char *su = NULL, *fa = NULL;
    if (meta_key(L, jp, o, "source_url", &su) != 0 || meta_key(L, jp, o, "fetched_at", &fa) != 0) return -1;
    if ((su && !(r->source_url_key = spec_ld_strdup(L, su))) || (fa && !(r->fetched_at_key = spec_ld_strdup(L, fa))))
        return -1;
    for (int i = 0; i < r->nfields; i++)
        if ((su && strcmp(r->fields[i].name, su) == 0) || (fa && strcmp(r->fields[i].name, fa) == 0)) {
            if (spec_ld_jp(L, sub, sizeof(sub), "%s.fields[%d].name", jp, i) != 0) return -1;
            return spec_ld_fail(L, sub, "'%s' is the key of source_url or fetched_at (rename those, or set them to null)",
                                r->fields[i].name);
        }
    return 0;
}

/* ---------- a page ---------- */

/* The _id of the item src into idbuf (or pointing into src): checked for UTF-8,
 * control characters and the same_as capture. Returns 0 with *id / *idlen, or -1
 * with a reason in err. */
static int item_id(const spec_item_rule *r, const spec_match *m, const parse_url_parts *up, const cJSON *src,
                   char *idbuf, size_t idcap, const char **id, size_t *idlen, char *err, size_t errlen) {
    if (r->id_kind == SPEC_ID_FIELD) {
        const cJSON *jid = spec_path_get(src, &r->id_from);
        if (!jid || cJSON_IsNull(jid)) {
            snprintf(err, errlen, "no id");
            return -1;
        }
        if (spec_scalar_text(jid, r->id_digits, idbuf, idcap, id, idlen) != 0 ||
            (r->id_digits && *idlen > PARSE_ID_MAX)) {
            snprintf(err, errlen, r->id_digits ? "bad id (not a string of digits)" : "bad id (not a string or a whole number)");
            return -1;
        }
    } else {
        spec_tctx tc = { up, src, 0, 0, 0, NULL, 0, 0 };
        long n = spec_tpl_expand(&r->id_tpl, &tc, idbuf, idcap, NULL);
        if (n < 0) {
            snprintf(err, errlen, "bad id (a field of the id template is missing or not a string or a whole number)");
            return -1;
        }
        *id = idbuf;
        *idlen = (size_t)n;
    }
    if (!zc_utf8_valid(*id, *idlen)) {
        snprintf(err, errlen, "bad id (not UTF-8)");
        return -1;
    }
    for (size_t i = 0; i < *idlen; i++)
        if ((unsigned char)(*id)[i] < 0x20 || (*id)[i] == 0x7f) {
            snprintf(err, errlen, "bad id (holds control characters)");
            return -1;
        }
    if (!r->id_same_as || !m) return 0;
    for (int i = 0; i < m->ncap; i++) {
        if (strcmp(m->cap[i].name, r->id_same_as) != 0) continue;
        if (m->cap[i].n != *idlen || memcmp(m->cap[i].s, *id, *idlen) != 0) {
            snprintf(err, errlen, "id mismatch (url %.*s, body %.*s)", (int)(m->cap[i].n > 64 ? 64 : m->cap[i].n),
                     m->cap[i].s, (int)(*idlen > 64 ? 64 : *idlen), *id);
            return -1;
        }
    }
    return 0;
}

/* The document of the object root (its fields under r->root) into out. */
static int item_doc(const spec_item_rule *r, const spec_match *m, const parse_url_parts *up, const char *url,
                    const cJSON *root, int64_t fetched_at_ms, const spec_ctx *cx, bson_t *out, char *err,
                    size_t errlen) {
    char idbuf[SPEC_ID_MAX + 8];
    const char *id = NULL;
    size_t idlen = 0;
    const cJSON *src = root;
    if (r->root.n) {
        src = spec_path_get(root, &r->root);
        if (!src) {
            snprintf(err, errlen, "%s missing", r->root.text);
            return -1;
        }
        if (!cJSON_IsObject(src)) {
            snprintf(err, errlen, "%s is not an object", r->root.text);
            return -1;
        }
    }
    if (item_id(r, m, up, src, idbuf, sizeof(idbuf), &id, &idlen, err, errlen) != 0) return -1;
    if (!bson_append_utf8(out, "_id", -1, id, (int)idlen)) goto big;
    int rc = spec_fields_put(out, src, r->fields, r->nfields, cx, err, errlen);
    if (rc < 0) goto big;
    if (rc > 0) return -1;
    if ((r->source_url_key && !bson_append_utf8(out, r->source_url_key, -1, url, -1)) ||
        (r->fetched_at_key && !bson_append_date_time(out, r->fetched_at_key, -1, fetched_at_ms)))
        goto big;
    return 0;
big:
    snprintf(err, errlen, "document too large or out of memory");
    return -1;
}

/* The URLs of the follow rules, read from the item's fields object src. */
static int item_follow(const spec_item_rule *r, const parse_url_parts *up, const cJSON *src, const spec_ctx *cx,
                       parse_urls *urls, char *err, size_t errlen) {
    for (int i = 0; i < r->nfollow; i++) {
        const spec_follow *fw = &r->follow[i];
        const cJSON *v = spec_path_get(src, &fw->from), *e;
        spec_tctx tc = { up, v, 0, 0, 0, NULL, 0, 1 };
        if (!v || cJSON_IsNull(v)) continue;
        if (!cJSON_IsArray(v)) {
            if (spec_tpl_add(&fw->url, &tc, cx, urls) != 0) goto oom;
            continue;
        }
        cJSON_ArrayForEach(e, v) {
            tc.item = e;
            if (spec_tpl_add(&fw->url, &tc, cx, urls) != 0) goto oom;
        }
    }
    return 0;
oom:
    snprintf(err, errlen, "out of memory");
    return -1;
}

int spec_item_run(const spec_item_rule *r, const spec_match *m, const parse_url_parts *up, const char *url,
                  const cJSON *root, int64_t fetched_at_ms, const spec_ctx *cx, bson_t *out, parse_urls *urls,
                  char *err, size_t errlen) {
    if (cJSON_IsNull(root)) return SPEC_GONE;
    if (!cJSON_IsObject(root)) {
        snprintf(err, errlen, "not an object");
        return -1;
    }
    if (r->gone_if.n && cJSON_IsTrue(spec_path_get(root, &r->gone_if))) return SPEC_GONE;
    if (item_doc(r, m, up, url, root, fetched_at_ms, cx, out, err, errlen) != 0) return -1;
    if (!r->nfollow) return 0;
    const cJSON *src = r->root.n ? spec_path_get(root, &r->root) : root;
    return item_follow(r, up, src, cx, urls, err, errlen);
}

int spec_item_doc(const spec_item_rule *r, const parse_url_parts *up, const char *url, const cJSON *item,
                  int64_t fetched_at_ms, const spec_ctx *cx, bson_t *out, char *err, size_t errlen) {
    if (!cJSON_IsObject(item)) {
        snprintf(err, errlen, "not an object");
        return -1;
    }
    return item_doc(r, NULL, up, url, item, fetched_at_ms, cx, out, err, errlen);
}
