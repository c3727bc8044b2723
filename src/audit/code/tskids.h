/* tskids.h - the named children of a tree-sitter node, one after the other,
 * in the order a tree cursor stepping through every child finds them
 * (hidden grammar nodes looked through, anonymous tokens left out), without
 * the cursor's bookkeeping. Implemented in tsrt.c, which is compiled
 * together with the tree-sitter runtime and uses its own child iterator. */
#ifndef MOAT_AUDIT_CODE_TSKIDS_H
#define MOAT_AUDIT_CODE_TSKIDS_H

#include <stdbool.h>
#include <stdint.h>

#include <tree_sitter/api.h>

#define MOAT__TS_KIDS_INLINE 16 /* nested hidden nodes kept inline; deeper ones on the heap */

typedef struct moat__ts_kids {
    uint64_t inline_its[MOAT__TS_KIDS_INLINE][6]; /* the runtime's child iterators */
    uint64_t (*its)[6];                           /* inline_its or a heap array */
    uint32_t depth, cap;
} moat__ts_kids;

/* The Python language to parse with: tree_sitter_python()'s tables and
 * scanner, the scanner's needless state restores left out (tsrt.c). */
const TSLanguage *moat__ts_python(void);
/* Whether its parse table gives what the grammar's gives for every state
 * and grammar symbol (for the tests). */
bool moat__ts_python_table_same(void);
/* src[0..len) (UTF-8) parsed with it, by a parser whose lexer steps over
 * ASCII text without the runtime's general path (tsrt.c): the tree
 * ts_parser_parse_string() gives, or NULL. */
TSTree *moat__ts_python_parse(const char *src, uint32_t len);

/* Starts at n's first child. */
void moat__ts_kids_begin(moat__ts_kids *k, TSNode n);
/* The next named child, false when there is none left. */
bool moat__ts_kids_next(moat__ts_kids *k, TSNode *out);
/* Frees what begin/next took from the heap (call once after begin). */
void moat__ts_kids_end(moat__ts_kids *k);

#endif
