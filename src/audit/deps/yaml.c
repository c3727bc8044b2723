/* yaml.c - one YAML document (a PyPA advisory-database file) to jansson,
 * through libyaml's document loader. Plain true/false become booleans and
 * plain null/~ null; every other scalar stays a string, which is what OSV
 * fields are (no implicit numbers or dates: "2023-07-25T16:31:58Z" and
 * "1.10" must stay text). Anchors and aliases are resolved by libyaml. */
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "deps_int.h"

static json_t *node_to_json(yaml_document_t *doc, yaml_node_t *node, int depth)
{
    if (!node || depth > 64) return NULL;
    switch (node->type) {
    case YAML_SCALAR_NODE: {
        const char *v = (const char *)node->data.scalar.value;
        size_t n = node->data.scalar.length;
        if (node->data.scalar.style == YAML_PLAIN_SCALAR_STYLE) {
            if ((n == 4 && (memcmp(v, "true", 4) == 0 || memcmp(v, "True", 4) == 0)))
                return json_true();
            if ((n == 5 && (memcmp(v, "false", 5) == 0 || memcmp(v, "False", 5) == 0)))
                return json_false();
            if (n == 0 || (n == 1 && v[0] == '~') || (n == 4 && memcmp(v, "null", 4) == 0))
                return json_null();
        }
        return json_stringn(v, n); /* NULL if not valid UTF-8 */
    }
    case YAML_SEQUENCE_NODE: {
        json_t *a = json_array();
        for (yaml_node_item_t *it = node->data.sequence.items.start;
             it < node->data.sequence.items.top; it++) {
            json_t *x = node_to_json(doc, yaml_document_get_node(doc, *it), depth + 1);
            if (!x) {
                json_decref(a);
                return NULL;
            }
            json_array_append_new(a, x);
        }
        return a;
    }
    case YAML_MAPPING_NODE: {
        json_t *o = json_object();
        for (yaml_node_pair_t *p = node->data.mapping.pairs.start; p < node->data.mapping.pairs.top;
             p++) {
            yaml_node_t *k = yaml_document_get_node(doc, p->key);
            if (!k || k->type != YAML_SCALAR_NODE) {
                json_decref(o);
                return NULL;
            }
            json_t *x = node_to_json(doc, yaml_document_get_node(doc, p->value), depth + 1);
            if (!x) {
                json_decref(o);
                return NULL;
            }
            char *key = moat_xstrndup((const char *)k->data.scalar.value, k->data.scalar.length);
            json_object_set_new(o, key, x);
            free(key);
        }
        return o;
    }
    default:
        return NULL;
    }
}

json_t *moat__yaml_to_json(const char *text, size_t len, char *err, size_t errlen)
{
    yaml_parser_t p;
    yaml_document_t doc;
    if (!yaml_parser_initialize(&p)) {
        snprintf(err, errlen, "YAML parser failed to start");
        return NULL;
    }
    yaml_parser_set_input_string(&p, (const unsigned char *)text, len);
    json_t *out = NULL;
    if (!yaml_parser_load(&p, &doc)) {
        snprintf(err, errlen, "line %zu: invalid YAML: %s", p.problem_mark.line + 1,
                 p.problem ? p.problem : "syntax error");
        yaml_parser_delete(&p);
        return NULL;
    }
    yaml_node_t *root = yaml_document_get_root_node(&doc);
    out = root ? node_to_json(&doc, root, 0) : NULL;
    if (!out) snprintf(err, errlen, "not an OSV record (empty, nested too deep or not UTF-8)");
    yaml_document_delete(&doc);
    yaml_parser_delete(&p);
    return out;
}
