/* tsrt.c - the tree-sitter runtime (the npm tree-sitter package's
 * vendor/tree-sitter/lib, all of it through its lib.c) compiled as one unit
 * with the auditor's child iterator (tskids.h), which uses the runtime's
 * own node child iterator rather than a TSTreeCursor: the walk of every
 * named node of a file was a tenth of `moat audit code`, most of it the
 * cursor's bookkeeping (descendant indexes, its stack, field ids). */
#include "lib.c"

#include <stdlib.h>

#include "tskids.h"

_Static_assert(sizeof(NodeChildIterator) <= sizeof(uint64_t[6]),
               "moat__ts_kids holds the runtime's iterator");
_Static_assert(_Alignof(NodeChildIterator) <= _Alignof(uint64_t),
               "moat__ts_kids holds the runtime's iterator");

static NodeChildIterator *kid_it(moat__ts_kids *k, uint32_t i)
{
    return (NodeChildIterator *)(void *)k->its[i];
}

static void kids_push(moat__ts_kids *k, const TSNode *n)
{
    if (k->depth == k->cap) {
        uint32_t cap = k->cap * 2;
        uint64_t(*its)[6] = malloc(cap * sizeof(*its));
        if (!its) abort(); /* tree-sitter's own policy when memory runs out */
        memcpy(its, k->its, k->depth * sizeof(*its));
        if (k->its != k->inline_its) free(k->its);
        k->its = its;
        k->cap = cap;
    }
    *kid_it(k, k->depth++) = ts_node_iterate_children(n);
}

void moat__ts_kids_begin(moat__ts_kids *k, TSNode n)
{
    k->its = k->inline_its;
    k->cap = MOAT__TS_KIDS_INLINE;
    k->depth = 0;
    kids_push(k, &n);
}

bool moat__ts_kids_next(moat__ts_kids *k, TSNode *out)
{
    while (k->depth > 0) {
        TSNode ch;
        if (!ts_node_child_iterator_next(kid_it(k, k->depth - 1), &ch)) {
            k->depth--;
            continue;
        }
        Subtree t = ts_node__subtree(ch);
        TSSymbol alias = ts_node__alias(&ch);
        /* visible (by itself or by an alias): a child of its own, given
         * when named, never looked into (the cursor stops on it) */
        if (alias) {
            if (ts_language_symbol_metadata(ch.tree->language, alias).named) {
                *out = ch;
                return true;
            }
            continue;
        }
        if (ts_subtree_visible(t)) {
            if (ts_subtree_named(t)) {
                *out = ch;
                return true;
            }
            continue;
        }
        /* hidden: its named descendants are children here */
        if (ts_subtree_child_count(t) > 0 && t.ptr->named_child_count > 0) kids_push(k, &ch);
    }
    return false;
}

void moat__ts_kids_end(moat__ts_kids *k)
{
    if (k->its != k->inline_its) free(k->its);
    k->its = k->inline_its;
    k->depth = 0;
}
