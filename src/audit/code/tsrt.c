/* tsrt.c - the tree-sitter runtime (the npm tree-sitter package's
 * vendor/tree-sitter/lib, all of it through its lib.c) compiled as one unit
 * with the auditor's child iterator (tskids.h), which uses the runtime's
 * own node child iterator rather than a TSTreeCursor: the walk of every
 * named node of a file was a tenth of `moat audit code`, most of it the
 * cursor's bookkeeping (descendant indexes, its stack, field ids).
 *
 * Also the Python language the auditor parses with (moat__ts_python): the
 * grammar's own tables, with its external scanner behind a wrapper that
 * leaves out the scanner's state restores that change nothing. */
#include "lib.c"

#include <pthread.h>
#include <stdlib.h>

#include "tskids.h"

/* ---- the Python language ------------------------------------------------
 * The runtime restores the external scanner's state before every token it
 * lexes (about 900,000 times for Django's source), although that state
 * changes only at the few tokens the scanner itself produces; the Python
 * scanner's restore frees and reallocates both of its arrays each time.
 * The wrapper remembers the bytes it last restored and skips a restore of
 * the same bytes while the scanner cannot have changed since: the Python
 * scanner changes its state only in a scan that returns true (every push,
 * pop and flag change sits just before a `return true`), and a restore of
 * the same bytes twice in a row leaves the state the first one did. After
 * a scan that returns true the next restore is done in full. */
const TSLanguage *tree_sitter_python(void);
void *tree_sitter_python_external_scanner_create(void);
void tree_sitter_python_external_scanner_destroy(void *payload);
bool tree_sitter_python_external_scanner_scan(void *payload, TSLexer *lexer, const bool *valid);
unsigned tree_sitter_python_external_scanner_serialize(void *payload, char *buffer);
void tree_sitter_python_external_scanner_deserialize(void *payload, const char *buffer,
                                                     unsigned length);

typedef struct py_scanner {
    void *inner;   /* the grammar's scanner */
    bool restored; /* state is what restoring last[0..len) gave, unchanged since */
    unsigned len;
    char last[TREE_SITTER_SERIALIZATION_BUFFER_SIZE];
} py_scanner;

static void *py_create(void)
{
    py_scanner *s = ts_malloc(sizeof(*s));
    if (!s) abort(); /* tree-sitter's own policy when memory runs out */
    s->inner = tree_sitter_python_external_scanner_create();
    s->restored = false;
    s->len = 0;
    return s;
}

static void py_destroy(void *payload)
{
    py_scanner *s = payload;
    tree_sitter_python_external_scanner_destroy(s->inner);
    ts_free(s);
}

static bool py_scan(void *payload, TSLexer *lexer, const bool *valid)
{
    py_scanner *s = payload;
    if (!tree_sitter_python_external_scanner_scan(s->inner, lexer, valid)) return false;
    s->restored = false;
    return true;
}

static unsigned py_serialize(void *payload, char *buffer)
{
    py_scanner *s = payload;
    return tree_sitter_python_external_scanner_serialize(s->inner, buffer);
}

static void py_deserialize(void *payload, const char *buffer, unsigned length)
{
    py_scanner *s = payload;
    if (s->restored && length == s->len && (length == 0 || !memcmp(buffer, s->last, length)))
        return;
    tree_sitter_python_external_scanner_deserialize(s->inner, buffer, length);
    if (length <= sizeof(s->last)) {
        if (length) memcpy(s->last, buffer, length);
        s->len = length;
        s->restored = true;
    } else {
        s->restored = false;
    }
}

static TSLanguage py_language;
static pthread_once_t py_once = PTHREAD_ONCE_INIT;

/* ---- the parse table ------------------------------------------------------
 * The grammar stores the rows of 190 of its 2,809 parse states whole and
 * the others as lists of (value, symbols) groups that every lookup searches
 * one by one: with the lookups of the next state after a reduce, that
 * search was about 7 % of a run. The wrapped language has every row whole
 * (2,809 x 273 entries, 1.5 MiB, built once per process): each entry is
 * the value the search finds (the first group listing the symbol), 0 where
 * none does, so every lookup gives what it gave. The runtime indexes rows
 * only by the grammar's own symbols (below symbol_count), as it already did
 * for the states stored whole; the only other reader of the group lists,
 * the lookahead iterator of the query and lookahead APIs, the auditor does
 * not use. */
static const uint16_t *dense_table(const TSLanguage *l)
{
    size_t n = (size_t)l->state_count * l->symbol_count;
    /* not the arena: the table lives as long as the process */
    uint16_t *t = calloc(n, sizeof(*t));
    uint32_t *seen = calloc(l->symbol_count, sizeof(*seen)); /* state + 1 once found there */
    if (!t || !seen) {
        free(t);
        free(seen);
        return NULL;
    }
    memcpy(t, l->parse_table, (size_t)l->large_state_count * l->symbol_count * sizeof(*t));
    for (uint32_t state = l->large_state_count; state < l->state_count; state++) {
        uint16_t *row = t + (size_t)state * l->symbol_count;
        const uint16_t *data =
            &l->small_parse_table[l->small_parse_table_map[state - l->large_state_count]];
        uint16_t groups = *data++;
        for (uint16_t g = 0; g < groups; g++) {
            uint16_t value = *data++, count = *data++;
            for (uint16_t k = 0; k < count; k++, data++) {
                if (*data >= l->symbol_count || seen[*data] == state + 1) continue;
                seen[*data] = state + 1; /* the search stops at the first group */
                row[*data] = value;
            }
        }
    }
    free(seen);
    return t;
}

static void py_init(void)
{
    py_language = *tree_sitter_python();
    const uint16_t *dense = dense_table(&py_language);
    if (dense) { /* else the grammar's own tables, as they are */
        py_language.parse_table = dense;
        py_language.large_state_count = py_language.state_count;
    }
    py_language.external_scanner.create = py_create;
    py_language.external_scanner.destroy = py_destroy;
    py_language.external_scanner.scan = py_scan;
    py_language.external_scanner.serialize = py_serialize;
    py_language.external_scanner.deserialize = py_deserialize;
}

const TSLanguage *moat__ts_python(void)
{
    pthread_once(&py_once, py_init);
    return &py_language;
}

bool moat__ts_python_table_same(void)
{
    const TSLanguage *a = tree_sitter_python(), *b = moat__ts_python();
    if (a->state_count != b->state_count || a->symbol_count != b->symbol_count) return false;
    for (uint32_t st = 0; st < a->state_count; st++)
        for (uint32_t sym = 0; sym < a->symbol_count; sym++)
            if (ts_language_lookup(a, (TSStateId)st, (TSSymbol)sym) !=
                ts_language_lookup(b, (TSStateId)st, (TSSymbol)sym))
                return false;
    return true;
}

/* ---- the lexer's step ----------------------------------------------------
 * The grammar's lexer and scanner step through the source one character at
 * a time through the lexer's advance(): for every character the runtime
 * moves the position, checks the included ranges and the chunk, and
 * decodes UTF-8 through a function pointer, about 90 instructions. This
 * step does the same for the common case, an ASCII character after a
 * one-byte one inside the current chunk, and hands every other case to the
 * runtime's own advance, so the lexer's state after it is the same. It
 * relies on what moat__ts_python_parse() guarantees for the parser it is
 * installed on: UTF-8 input read as one string (one chunk), the default
 * included range (all bytes: the range checks cannot fail inside the
 * chunk, which is shorter than 4 GiB), no logger. */
static void fast_advance(TSLexer *data, bool skip)
{
    Lexer *self = (Lexer *)data;
    uint32_t pos = self->current_position.bytes + 1;
    uint32_t off = pos - self->chunk_start; /* wraps when pos is before the chunk */
    if (self->lookahead_size == 1 && self->chunk && off < self->chunk_size) {
        uint8_t b = ((const uint8_t *)self->chunk)[off];
        if (b < 0x80) {
            self->current_position.bytes = pos;
            if (self->data.lookahead == '\n') {
                self->current_position.extent.row++;
                self->current_position.extent.column = 0;
            } else {
                self->current_position.extent.column++;
            }
            if (skip) self->token_start_position = self->current_position;
            self->data.lookahead = b; /* lookahead_size stays 1 */
            return;
        }
    }
    ts_lexer__advance(data, skip);
}

/* The runtime's mark_end() moves a token's end back to the end of the
 * previous included range when the lexer stands at the start of the next
 * one; with the one default range there is none (the lexer is in range 0
 * or at the end), so the end is where the lexer is. */
static void fast_mark_end(TSLexer *data)
{
    Lexer *self = (Lexer *)data;
    self->token_end_position = self->current_position;
}

TSTree *moat__ts_python_parse(const char *src, uint32_t len)
{
    TSParser *p = ts_parser_new();
    if (!ts_parser_set_language(p, moat__ts_python()))
        abort(); /* the grammar's ABI is checked at build */
    p->lexer.data.advance = fast_advance;
    p->lexer.data.mark_end = fast_mark_end;
    TSTree *t = ts_parser_parse_string(p, NULL, src, len);
    ts_parser_delete(p);
    return t;
}

/* ---- the child iterator -------------------------------------------------- */

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
