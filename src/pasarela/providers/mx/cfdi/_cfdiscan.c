/* _cfdiscan: a strict, validating single-pass reader of the CFDI fields the store indexes.
 *
 * Why this exists: the index needs ~25 attributes of a handful of elements from each CFDI, and
 * building an lxml tree for that costs most of the ingest's time (see docs/benchmarks.md). This
 * module reads only a narrow, common subset of XML and declines everything else:
 *
 *   - an optional XML declaration (version 1.0, encoding UTF-8, standalone yes/no), then one root
 *     element, elements, attributes, and whitespace between tags;
 *   - names of ASCII letters, digits, '_', '-', '.', with at most one ':' (QName);
 *   - attribute values with only the five predefined entity references;
 *   - text content and CDATA sections inside elements (checked, never read);
 *   - comments anywhere outside tags;
 *   - valid UTF-8 made of XML characters; namespace prefixes all declared.
 *
 * Anything outside that (comments, CDATA, DOCTYPE, processing instructions, text content, numeric
 * character references, another encoding, a deep tree, a broken tag...) returns None, and the caller
 * parses the file with lxml as before. So for every input this module either declines or gives
 * exactly what parser._comprobante would read from lxml's tree of the same, well-formed, file.
 * It never raises on bad input.
 *
 * scan_comprobante(data: bytes) -> None | (root_namespace, root_local_name, root_attributes,
 *     emisor, receptor, impuestos, timbre, pagos)
 * where each element is a dict of its unprefixed attributes (those named by configure(), when it
 * was called) or None when absent, chosen as
 * parser._comprobante chooses them: the first root child whose local name is Emisor, Receptor,
 * Impuestos, Complemento; in that first Complemento, the first TimbreFiscalDigital and the first
 * Pagos; pagos is None or a list of (Pago attributes, [DoctoRelacionado attributes, ...]).
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>

#define MAX_DEPTH 64
#define MAX_ATTRS 128
#define MAX_NS 64
/* Far below libxml2's own limits without XML_PARSE_HUGE (names 50,000, text 10,000,000 bytes). */
#define MAX_NAME 1000
#define MAX_VALUE 1000000

typedef struct {
    const unsigned char *name;
    Py_ssize_t name_len;
    Py_ssize_t colon;            /* index of ':' in the name, or -1 */
    const unsigned char *value;  /* raw, between the quotes */
    Py_ssize_t value_len;
    int flags;  /* VALUE_ENTITIES, VALUE_SPACES */
} Attr;

#define VALUE_ENTITIES 1  /* holds predefined entity references */
#define VALUE_SPACES 2    /* holds tab, CR or LF: normalised as XML 1.0 §3.3.3 says */

typedef struct {
    const unsigned char *prefix;  /* NULL: the default namespace */
    Py_ssize_t prefix_len;
    const unsigned char *uri;
    Py_ssize_t uri_len;
} NsBinding;

enum Role { OTHER, ROOT, EMISOR, RECEPTOR, IMPUESTOS, COMPLEMENTO, TIMBRE, PAGOS, PAGO, DOCTO };

typedef struct {
    const unsigned char *name;
    Py_ssize_t name_len;
    int ns_mark;  /* ns stack size before this element's declarations */
    enum Role role;
} Frame;

typedef struct {
    Frame frames[MAX_DEPTH];
    int depth;
    NsBinding ns[MAX_NS];
    int ns_count;
    Attr attrs[MAX_ATTRS];
    int attr_count;
    /* results (owned references) */
    PyObject *root_ns, *root_local, *found[TIMBRE + 1];
    PyObject *pagos;        /* list or NULL */
    PyObject *current_doctos;  /* borrowed: the doctos list of the last Pago */
    int complemento_seen, pagos_seen;
} Scan;

/* ---- characters ------------------------------------------------------------------------------ */

/* Valid UTF-8 consisting of XML 1.0 characters (no C0 controls but tab, LF, CR; no surrogates,
 * no U+FFFE/U+FFFF, nothing above U+10FFFF, no overlong forms). */
static int valid_xml_utf8(const unsigned char *p, Py_ssize_t n)
{
    const unsigned char *end = p + n;
    while (p < end) {
        if (end - p >= 8) {
            uint64_t w;
            memcpy(&w, p, 8);
            /* Eight ASCII bytes, none below 0x20 (a word trick): nothing to check. */
            if (!((w | ((w - 0x2020202020202020ULL) & ~w)) & 0x8080808080808080ULL)) {
                p += 8;
                continue;
            }
        }
        unsigned char c = *p;
        if (c < 0x80) {
            if (c < 0x20 && c != 0x09 && c != 0x0A && c != 0x0D)
                return 0;
            p++;
            continue;
        }
        if (c >= 0xC2 && c <= 0xDF) {
            if (end - p < 2 || (p[1] & 0xC0) != 0x80)
                return 0;
            p += 2;
        } else if (c >= 0xE0 && c <= 0xEF) {
            if (end - p < 3 || (p[1] & 0xC0) != 0x80 || (p[2] & 0xC0) != 0x80)
                return 0;
            if (c == 0xE0 && p[1] < 0xA0)
                return 0; /* overlong */
            if (c == 0xED && p[1] >= 0xA0)
                return 0; /* surrogate */
            if (c == 0xEF && p[1] == 0xBF && (p[2] == 0xBE || p[2] == 0xBF))
                return 0; /* U+FFFE, U+FFFF */
            p += 3;
        } else if (c >= 0xF0 && c <= 0xF4) {
            if (end - p < 4 || (p[1] & 0xC0) != 0x80 || (p[2] & 0xC0) != 0x80 || (p[3] & 0xC0) != 0x80)
                return 0;
            if ((c == 0xF0 && p[1] < 0x90) || (c == 0xF4 && p[1] >= 0x90))
                return 0; /* overlong, above U+10FFFF */
            p += 4;
        } else {
            return 0;
        }
    }
    return 1;
}

static int is_space(unsigned char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

/* Name characters this reader accepts, by byte (filled by the module's init). */
#define NAME_START 1
#define NAME_CHAR 2
static unsigned char name_class[256];

static void init_name_class(void)
{
    for (int c = 0; c < 256; c++) {
        int start = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_';
        int rest = start || (c >= '0' && c <= '9') || c == '-' || c == '.';
        name_class[c] = (unsigned char)((start ? NAME_START : 0) | (rest ? NAME_CHAR : 0));
    }
}

/* A Latin-1 letter (U+00C0-U+00FF but for the signs U+00D7, U+00F7) at p, UTF-8: a name
 * character in every edition of XML 1.0 (the Nomina complement writes "Antigüedad"). */
static int latin1_letter(const unsigned char *p, const unsigned char *end)
{
    return end - p >= 2 && p[0] == 0xC3 && p[1] >= 0x80 && p[1] <= 0xBF && p[1] != 0x97 && p[1] != 0xB7;
}

/* A QName at p: NCName (':' NCName)?, of ASCII and Latin-1 letters. Returns its length in bytes
 * (0: none, or a name this reader leaves to lxml) and sets *colon. */
static Py_ssize_t read_qname(const unsigned char *p, const unsigned char *end, Py_ssize_t *colon)
{
    const unsigned char *q = p;
    *colon = -1;
    for (;;) {
        if (q < end && (name_class[*q] & NAME_START))
            q++;
        else if (latin1_letter(q, end))
            q += 2;
        else
            return 0; /* empty, or ends with ':' */
        for (;;) {
            while (q < end && (name_class[*q] & NAME_CHAR))
                q++;
            if (!latin1_letter(q, end))
                break;
            q += 2;
        }
        if (q < end && *q == ':' && *colon < 0) {
            *colon = q - p;
            q++;
            continue;
        }
        break;
    }
    if (q < end && (*q == ':' || *q >= 0x80))
        return 0; /* a second ':', or another non-ASCII character */
    return q - p <= MAX_NAME ? q - p : 0;
}

static const unsigned char *skip_space(const unsigned char *p, const unsigned char *end)
{
    while (p < end && is_space(*p))
        p++;
    return p;
}

/* ---- attribute values -------------------------------------------------------------------------- */

/* Bytes an attribute value is scanned for: '<', '&', tab, LF, CR. */
static unsigned char value_special[256];

static void init_value_special(void)
{
    value_special['<'] = value_special['&'] = 1;
    value_special['\t'] = value_special['\n'] = value_special['\r'] = 1;
}

#define BYTES(b) (0x0101010101010101ULL * (b))
#define HIGH_BITS BYTES(0x80)

/* Whether any byte of the word is below n (n <= 128; bytes from 0x80 never count). */
static int any_below(uint64_t w, unsigned char n)
{
    return ((w - BYTES(n)) & ~w & HIGH_BITS) != 0;
}

static int any_equal(uint64_t w, unsigned char b)
{
    return any_below(w ^ BYTES(b), 1);
}

/* Whether the 8 bytes at p may hold a value_special byte (tab, LF, CR are below 0x0E). */
static int special_in_word(const unsigned char *p)
{
    uint64_t w;
    memcpy(&w, p, 8);
    return any_below(w, 0x0E) || any_equal(w, '<') || any_equal(w, '&');
}

/* Length of the predefined entity reference at p ("&amp;" ...) and its character, or 0. */
static int entity_at(const unsigned char *p, const unsigned char *end, char *out)
{
    Py_ssize_t left = end - p;
    if (left >= 5 && memcmp(p, "&amp;", 5) == 0) { *out = '&'; return 5; }
    if (left >= 4 && memcmp(p, "&lt;", 4) == 0) { *out = '<'; return 4; }
    if (left >= 4 && memcmp(p, "&gt;", 4) == 0) { *out = '>'; return 4; }
    if (left >= 6 && memcmp(p, "&quot;", 6) == 0) { *out = '"'; return 6; }
    if (left >= 6 && memcmp(p, "&apos;", 6) == 0) { *out = '\''; return 6; }
    return 0;
}

/* The attribute value starting after the opening quote; sets *value_end to the closing quote and
 * *flags to what decoding it takes. 0 when the value is not one we accept: '<', an '&' that is
 * not a predefined entity, or no closing quote. */
static int read_value(const unsigned char *p, const unsigned char *end, unsigned char quote,
                      const unsigned char **value_end, int *flags)
{
    const unsigned char *close = memchr(p, quote, end - p);
    const unsigned char *q;
    char ignored;
    if (close == NULL || close - p > MAX_VALUE)
        return 0;
    *flags = 0;
    for (q = p; q < close; q++) {
        /* Most values (the seals, the certificate) hold none of these: skip them 8 bytes at once. */
        while (close - q >= 8 && !special_in_word(q))
            q += 8;
        if (q >= close)
            break;
        unsigned char c = *q;
        if (!value_special[c])
            continue;
        if (c == '<')
            return 0;
        if (c == '\t' || c == '\n' || c == '\r') {
            *flags |= VALUE_SPACES;
            continue;
        }
        if (c == '&') {
            int len = entity_at(q, close, &ignored);
            if (len == 0)
                return 0;
            *flags |= VALUE_ENTITIES;
            q += len - 1;
        }
    }
    *value_end = close;
    return 1;
}

/* The value as lxml gives it: entities replaced; CR LF, and then each tab, CR or LF, one space
 * (end-of-line handling, then attribute-value normalisation without a DTD). */
static PyObject *decode_value(const Attr *a)
{
    if (!a->flags)
        return PyUnicode_DecodeUTF8((const char *)a->value, a->value_len, "strict");
    char *buffer = PyMem_Malloc(a->value_len > 0 ? a->value_len : 1);
    if (buffer == NULL)
        return PyErr_NoMemory();
    Py_ssize_t n = 0;
    const unsigned char *q = a->value, *end = a->value + a->value_len;
    while (q < end) {
        char c;
        int len = (*q == '&') ? entity_at(q, end, &c) : 0;
        if (len) {
            buffer[n++] = c;
            q += len;
        } else if (*q == '\r' || *q == '\n' || *q == '\t') {
            buffer[n++] = ' ';
            q += (q[0] == '\r' && q + 1 < end && q[1] == '\n') ? 2 : 1;
        } else {
            buffer[n++] = (char)*q++;
        }
    }
    PyObject *value = PyUnicode_DecodeUTF8(buffer, n, "strict");
    PyMem_Free(buffer);
    return value;
}

/* ---- namespaces -------------------------------------------------------------------------------- */

#define XML_NS "http://www.w3.org/XML/1998/namespace"
#define XMLNS_NS "http://www.w3.org/2000/xmlns/"

static int same(const unsigned char *p, Py_ssize_t len, const char *text)
{
    return len == (Py_ssize_t)strlen(text) && memcmp(p, text, len) == 0;
}

static int is_xmlns_decl(const Attr *a)
{
    if (a->colon < 0)
        return a->name_len == 5 && memcmp(a->name, "xmlns", 5) == 0;
    return a->colon == 5 && memcmp(a->name, "xmlns", 5) == 0;
}

static int is_alpha(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}

static int uri_char(unsigned char c, int colon_too)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '-' || c == '_' || c == '~' || c == '/' || (colon_too && c == ':');
}

/* A namespace name lxml surely takes as a URI (it refuses those that do not parse as one): a scheme,
 * then "//" and a host of letters, digits, '.', '-' with a plain path, or a plain opaque part
 * ("urn:..."). Anything else is left to lxml. */
static int plain_uri(const unsigned char *p, Py_ssize_t len)
{
    const unsigned char *end = p + len, *q = p;
    if (q >= end || !is_alpha(*q))
        return 0;
    while (q < end && (is_alpha(*q) || (*q >= '0' && *q <= '9') || *q == '+' || *q == '-' || *q == '.'))
        q++;
    if (q >= end || *q != ':')
        return 0;
    q++;
    if (end - q >= 2 && q[0] == '/' && q[1] == '/') {
        const unsigned char *host = q += 2;
        while (q < end && (is_alpha(*q) || (*q >= '0' && *q <= '9') || *q == '.' || *q == '-'))
            q++;
        if (q == host || (q < end && *q != '/'))
            return 0;
        for (; q < end; q++)
            if (!uri_char(*q, 0))
                return 0;
        return 1;
    }
    if (q >= end)
        return 0;
    for (; q < end; q++)
        if (!uri_char(*q, 1))
            return 0;
    return 1;
}

/* Push this element's xmlns declarations. 0: a declaration we do not handle (declines). */
static int push_namespaces(Scan *s)
{
    for (int i = 0; i < s->attr_count; i++) {
        Attr *a = &s->attrs[i];
        if (!is_xmlns_decl(a))
            continue;
        if (a->flags || s->ns_count >= MAX_NS)
            return 0;
        NsBinding *b = &s->ns[s->ns_count];
        if (a->colon < 0) {
            b->prefix = NULL;
            b->prefix_len = 0;
        } else {
            b->prefix = a->name + 6;
            b->prefix_len = a->name_len - 6;
            /* xmlns:p="" is not allowed; the reserved prefixes are left to lxml. */
            if (a->value_len == 0)
                return 0;
            if ((b->prefix_len == 3 && memcmp(b->prefix, "xml", 3) == 0) ||
                (b->prefix_len == 5 && memcmp(b->prefix, "xmlns", 5) == 0))
                return 0;
        }
        /* Binding the xml or xmlns namespace names is an error lxml reports: left to it. */
        if (same(a->value, a->value_len, XML_NS) || same(a->value, a->value_len, XMLNS_NS))
            return 0;
        if (!(b->prefix == NULL && a->value_len == 0) && !plain_uri(a->value, a->value_len))
            return 0;
        b->uri = a->value;
        b->uri_len = a->value_len;
        s->ns_count++;
    }
    return 1;
}

/* The URI bound to a prefix (NULL prefix: the default namespace). Returns 0 when unbound; a
 * default namespace never declared (or declared "") is the empty URI, found. */
static int lookup_ns(const Scan *s, const unsigned char *prefix, Py_ssize_t prefix_len,
                     const unsigned char **uri, Py_ssize_t *uri_len)
{
    for (int i = s->ns_count - 1; i >= 0; i--) {
        const NsBinding *b = &s->ns[i];
        if (prefix == NULL ? b->prefix == NULL
                           : (b->prefix != NULL && b->prefix_len == prefix_len &&
                              memcmp(b->prefix, prefix, prefix_len) == 0)) {
            *uri = b->uri;
            *uri_len = b->uri_len;
            return 1;
        }
    }
    if (prefix == NULL) {
        *uri = (const unsigned char *)"";
        *uri_len = 0;
        return 1;
    }
    return 0;
}

/* Attribute checks lxml makes: no duplicate names; every prefix declared. Two prefixed attributes
 * with the same local name could expand to the same name: declined rather than resolved. */
static int attributes_acceptable(const Scan *s)
{
    for (int i = 0; i < s->attr_count; i++) {
        const Attr *a = &s->attrs[i];
        if (a->colon >= 0 && !is_xmlns_decl(a)) {
            const unsigned char *uri;
            Py_ssize_t uri_len;
            if (!lookup_ns(s, a->name, a->colon, &uri, &uri_len))
                return 0;
        }
        for (int j = 0; j < i; j++) {
            const Attr *b = &s->attrs[j];
            if (a->name_len == b->name_len && memcmp(a->name, b->name, a->name_len) == 0)
                return 0;
            if (a->colon >= 0 && b->colon >= 0 && !is_xmlns_decl(a) && !is_xmlns_decl(b)) {
                Py_ssize_t la = a->name_len - a->colon - 1, lb = b->name_len - b->colon - 1;
                if (la == lb && memcmp(a->name + a->colon + 1, b->name + b->colon + 1, la) == 0)
                    return 0;
            }
        }
    }
    return 1;
}

/* ---- results ----------------------------------------------------------------------------------- */

/* The attribute names the caller reads, set by configure(): the dicts hold only these (interned
 * keys, made once). Not configured: every attribute. An open-addressing table; at most half full. */
#define KEY_SLOTS 256
typedef struct {
    Py_ssize_t len;
    const char *utf8; /* owned by key */
    PyObject *key;
} Key;
static Key keys[KEY_SLOTS];
static int key_count;

static unsigned key_slot(const unsigned char *name, Py_ssize_t len)
{
    return (unsigned)(len * 31 + name[0] * 7 + name[len - 1] * 3) & (KEY_SLOTS - 1);
}

/* The interned key for this name (borrowed), or NULL when the caller does not read it. */
static PyObject *wanted_key(const unsigned char *name, Py_ssize_t len)
{
    for (unsigned i = key_slot(name, len), n = 0; n < KEY_SLOTS; i = (i + 1) & (KEY_SLOTS - 1), n++) {
        const Key *k = &keys[i];
        if (k->key == NULL)
            return NULL;
        if (k->len == len && memcmp(k->utf8, name, len) == 0)
            return k->key;
    }
    return NULL;
}

static void clear_keys(void)
{
    for (int i = 0; i < KEY_SLOTS; i++)
        Py_CLEAR(keys[i].key);
    key_count = 0;
}

static PyObject *configure(PyObject *module, PyObject *names)
{
    (void)module;
    PyObject *sequence = PySequence_Fast(names, "configure() takes a sequence of attribute names");
    if (sequence == NULL)
        return NULL;
    Py_ssize_t count = PySequence_Fast_GET_SIZE(sequence);
    if (count > KEY_SLOTS / 2) {
        Py_DECREF(sequence);
        return PyErr_Format(PyExc_ValueError, "at most %d attribute names", KEY_SLOTS / 2);
    }
    clear_keys();
    for (Py_ssize_t i = 0; i < count; i++) {
        PyObject *name = PySequence_Fast_GET_ITEM(sequence, i);
        Py_ssize_t len;
        const char *utf8 = PyUnicode_Check(name) ? PyUnicode_AsUTF8AndSize(name, &len) : NULL;
        if (utf8 == NULL || len == 0) {
            if (!PyErr_Occurred())
                PyErr_SetString(PyExc_TypeError, "attribute names are non-empty strings");
            clear_keys();
            Py_DECREF(sequence);
            return NULL;
        }
        if (wanted_key((const unsigned char *)utf8, len) != NULL)
            continue; /* given twice */
        Py_INCREF(name);
        PyUnicode_InternInPlace(&name);
        utf8 = PyUnicode_AsUTF8AndSize(name, &len);
        unsigned slot = key_slot((const unsigned char *)utf8, len);
        while (keys[slot].key != NULL)
            slot = (slot + 1) & (KEY_SLOTS - 1);
        keys[slot].len = len;
        keys[slot].utf8 = utf8;
        keys[slot].key = name;
        key_count++;
    }
    Py_DECREF(sequence);
    Py_RETURN_NONE;
}

/* The element's unprefixed attributes (xmlns excluded), as lxml's element.get sees them; only
 * the configured names, when there are. */
static PyObject *attribute_dict(const Scan *s)
{
    PyObject *dict = PyDict_New();
    if (dict == NULL)
        return NULL;
    for (int i = 0; i < s->attr_count; i++) {
        const Attr *a = &s->attrs[i];
        if (a->colon >= 0 || is_xmlns_decl(a))
            continue;
        PyObject *key;
        if (key_count) {
            key = wanted_key(a->name, a->name_len);
            if (key == NULL)
                continue;
            Py_INCREF(key);
        } else {
            key = PyUnicode_FromStringAndSize((const char *)a->name, a->name_len);
        }
        PyObject *value = key ? decode_value(a) : NULL;
        if (value == NULL || PyDict_SetItem(dict, key, value) < 0) {
            Py_XDECREF(key);
            Py_XDECREF(value);
            Py_DECREF(dict);
            return NULL;
        }
        Py_DECREF(key);
        Py_DECREF(value);
    }
    return dict;
}

static int local_is(const unsigned char *name, Py_ssize_t len, Py_ssize_t colon, const char *want)
{
    Py_ssize_t start = colon + 1, want_len = (Py_ssize_t)strlen(want);
    return len - start == want_len && memcmp(name + start, want, want_len) == 0;
}

/* ``role`` for the first such element (its flag then set), OTHER for any later one. */
static enum Role first_only(int *seen, enum Role role)
{
    if (*seen)
        return OTHER;
    *seen = 1;
    return role;
}

/* What this element is to parser._comprobante, given its parent's role. */
static enum Role role_of(Scan *s, enum Role parent, const unsigned char *name, Py_ssize_t len,
                         Py_ssize_t colon)
{
    switch (parent) {
    case ROOT:
        if (local_is(name, len, colon, "Emisor"))
            return s->found[EMISOR] ? OTHER : EMISOR;
        if (local_is(name, len, colon, "Receptor"))
            return s->found[RECEPTOR] ? OTHER : RECEPTOR;
        if (local_is(name, len, colon, "Impuestos"))
            return s->found[IMPUESTOS] ? OTHER : IMPUESTOS;
        if (local_is(name, len, colon, "Complemento"))
            return first_only(&s->complemento_seen, COMPLEMENTO);
        return OTHER;
    case COMPLEMENTO:
        if (local_is(name, len, colon, "TimbreFiscalDigital"))
            return s->found[TIMBRE] ? OTHER : TIMBRE;
        if (local_is(name, len, colon, "Pagos"))
            return first_only(&s->pagos_seen, PAGOS);
        return OTHER;
    case PAGOS:
        return local_is(name, len, colon, "Pago") ? PAGO : OTHER;
    case PAGO:
        return local_is(name, len, colon, "DoctoRelacionado") ? DOCTO : OTHER;
    default:
        return OTHER;
    }
}

/* Record the element's attributes where its role says. -1: a Python error. */
static int capture(Scan *s, enum Role role)
{
    PyObject *attributes;
    switch (role) {
    case ROOT: case EMISOR: case RECEPTOR: case IMPUESTOS: case TIMBRE:
        attributes = attribute_dict(s);
        if (attributes == NULL)
            return -1;
        s->found[role] = attributes;
        return 0;
    case PAGOS:
        s->pagos = PyList_New(0);
        return s->pagos ? 0 : -1;
    case PAGO: {
        PyObject *doctos = PyList_New(0);
        attributes = doctos ? attribute_dict(s) : NULL;
        PyObject *pair = attributes ? PyTuple_Pack(2, attributes, doctos) : NULL;
        Py_XDECREF(attributes);
        Py_XDECREF(doctos);
        if (pair == NULL)
            return -1;
        int failed = PyList_Append(s->pagos, pair);
        Py_DECREF(pair);
        s->current_doctos = doctos; /* kept alive by the pair, now in the list */
        return failed ? -1 : 0;
    }
    case DOCTO:
        attributes = attribute_dict(s);
        if (attributes == NULL)
            return -1;
        {
            int failed = PyList_Append(s->current_doctos, attributes);
            Py_DECREF(attributes);
            return failed ? -1 : 0;
        }
    default:
        return 0;
    }
}

/* ---- the document ------------------------------------------------------------------------------ */

enum { DECLINE = 0, ACCEPT = 1, FAILED = -1 };

/* The XML declaration, if any. Returns where the document goes on, or NULL to decline. */
static const unsigned char *read_declaration(const unsigned char *p, const unsigned char *end)
{
    if (end - p < 5 || memcmp(p, "<?xml", 5) != 0)
        return p;
    const unsigned char *close = NULL;
    for (const unsigned char *q = p + 5; q + 1 < end && q < p + 200; q++) {
        if (q[0] == '?' && q[1] == '>') {
            close = q;
            break;
        }
    }
    if (close == NULL || !is_space(p[5]))
        return NULL;
    /* version="1.0" [encoding="UTF-8"] [standalone="yes|no"], in this order. */
    static const char *names[] = {"version", "encoding", "standalone"};
    const unsigned char *q = p + 5;
    int next_name = 0, seen_version = 0;
    for (;;) {
        const unsigned char *before = q;
        q = skip_space(q, close);
        if (q == close)
            break;
        if (q == before)
            return NULL;
        int which = -1;
        for (int i = next_name; i < 3; i++) {
            size_t len = strlen(names[i]);
            if ((size_t)(close - q) > len && memcmp(q, names[i], len) == 0) {
                which = i;
                q += len;
                break;
            }
        }
        if (which < 0)
            return NULL;
        q = skip_space(q, close);
        if (q >= close || *q != '=')
            return NULL;
        q = skip_space(q + 1, close);
        if (q >= close || (*q != '"' && *q != '\''))
            return NULL;
        unsigned char quote = *q++;
        const unsigned char *value_end = memchr(q, quote, close - q);
        if (value_end == NULL)
            return NULL;
        Py_ssize_t len = value_end - q;
        if (which == 0) {
            if (len != 3 || memcmp(q, "1.0", 3) != 0)
                return NULL;
            seen_version = 1;
        } else if (which == 1) {
            if (len != 5 || strncasecmp((const char *)q, "utf-8", 5) != 0)
                return NULL;
        } else if (!((len == 3 && memcmp(q, "yes", 3) == 0) || (len == 2 && memcmp(q, "no", 2) == 0))) {
            return NULL;
        }
        if (!seen_version)
            return NULL;
        next_name = which + 1;
        q = value_end + 1;
    }
    return seen_version ? close + 2 : NULL;
}

/* One start tag at p (just after '<'): name, attributes, '>' or '/>'. */
static int start_tag(Scan *s, const unsigned char **at, const unsigned char *end)
{
    const unsigned char *p = *at;
    Py_ssize_t colon;
    Py_ssize_t name_len = read_qname(p, end, &colon);
    if (name_len == 0 || s->depth >= MAX_DEPTH)
        return DECLINE;
    const unsigned char *name = p;
    p += name_len;
    s->attr_count = 0;
    int self_closing = 0;
    for (;;) {
        const unsigned char *before = p;
        p = skip_space(p, end);
        if (p >= end)
            return DECLINE;
        if (*p == '>') {
            p++;
            break;
        }
        if (*p == '/') {
            if (p + 1 >= end || p[1] != '>')
                return DECLINE;
            p += 2;
            self_closing = 1;
            break;
        }
        if (p == before || s->attr_count >= MAX_ATTRS)
            return DECLINE; /* attributes must be separated by whitespace */
        Attr *a = &s->attrs[s->attr_count];
        a->name = p;
        a->name_len = read_qname(p, end, &a->colon);
        if (a->name_len == 0)
            return DECLINE;
        p = skip_space(p + a->name_len, end);
        if (p >= end || *p != '=')
            return DECLINE;
        p = skip_space(p + 1, end);
        if (p >= end || (*p != '"' && *p != '\''))
            return DECLINE;
        const unsigned char *value_end;
        if (!read_value(p + 1, end, *p, &value_end, &a->flags))
            return DECLINE;
        a->value = p + 1;
        a->value_len = value_end - (p + 1);
        p = value_end + 1;
        s->attr_count++;
    }

    Frame *frame = &s->frames[s->depth];
    frame->name = name;
    frame->name_len = name_len;
    frame->ns_mark = s->ns_count;
    if (!push_namespaces(s) || !attributes_acceptable(s))
        return DECLINE;
    const unsigned char *uri;
    Py_ssize_t uri_len;
    if (colon >= 0) {
        if ((colon == 5 && memcmp(name, "xmlns", 5) == 0) || (colon == 3 && memcmp(name, "xml", 3) == 0))
            return DECLINE;
        if (!lookup_ns(s, name, colon, &uri, &uri_len))
            return DECLINE;
    } else {
        lookup_ns(s, NULL, 0, &uri, &uri_len);
    }
    if (s->depth == 0) {
        frame->role = ROOT;
        s->root_ns = PyUnicode_DecodeUTF8((const char *)uri, uri_len, "strict");
        s->root_local = s->root_ns ? PyUnicode_FromStringAndSize((const char *)name + colon + 1,
                                                                 name_len - colon - 1) : NULL;
        if (s->root_local == NULL)
            return FAILED;
    } else {
        frame->role = role_of(s, s->frames[s->depth - 1].role, name, name_len, colon);
    }
    if (capture(s, frame->role) < 0)
        return FAILED;
    if (self_closing)
        s->ns_count = frame->ns_mark;
    else
        s->depth++;
    *at = p;
    return ACCEPT;
}

/* One end tag at p (just after '</'): must close the open element. */
static int end_tag(Scan *s, const unsigned char **at, const unsigned char *end)
{
    const unsigned char *p = *at;
    if (s->depth == 0)
        return DECLINE;
    Frame *frame = &s->frames[s->depth - 1];
    if (end - p < frame->name_len || memcmp(p, frame->name, frame->name_len) != 0)
        return DECLINE;
    p = skip_space(p + frame->name_len, end);
    if (p >= end || *p != '>')
        return DECLINE;
    s->ns_count = frame->ns_mark;
    s->depth--;
    *at = p + 1;
    return ACCEPT;
}

/* A comment at p (just after '<!--'): its text may not hold "--" (XML 1.0 §2.5), so the first
 * "--" must be its end. */
static int comment(const unsigned char **at, const unsigned char *end)
{
    const unsigned char *dashes = memmem(*at, end - *at, "--", 2);
    if (dashes == NULL || end - dashes < 3 || dashes[2] != '>')
        return DECLINE;
    *at = dashes + 3;
    return ACCEPT;
}

static int is_xml_char(unsigned long c)
{
    return c == 0x9 || c == 0xA || c == 0xD || (c >= 0x20 && c <= 0xD7FF) || (c >= 0xE000 && c <= 0xFFFD) ||
           (c >= 0x10000 && c <= 0x10FFFF);
}

/* Length of the entity or character reference at p (a predefined entity, or &#N; / &#xH; of an XML
 * character), or 0. */
static int reference_at(const unsigned char *p, const unsigned char *end)
{
    char ignored;
    int len = entity_at(p, end, &ignored);
    if (len || end - p < 4 || p[1] != '#')
        return len;
    int hex = p[2] == 'x';
    const unsigned char *q = p + 2 + hex;
    unsigned long value = 0;
    int digits = 0;
    for (; q < end && digits <= 8; q++, digits++) {
        int d;
        if (*q >= '0' && *q <= '9')
            d = *q - '0';
        else if (hex && ((*q | 0x20) >= 'a' && (*q | 0x20) <= 'f'))
            d = (*q | 0x20) - 'a' + 10;
        else
            break;
        value = value * (hex ? 16 : 10) + d;
    }
    if (digits == 0 || digits > 8 || q >= end || *q != ';' || !is_xml_char(value))
        return 0;
    return (int)(q + 1 - p);
}

/* Text content at p, up to the next '<': references must be well-formed and "]]>" may not occur.
 * Never read by the index, only checked. */
static int text(const unsigned char **at, const unsigned char *end)
{
    const unsigned char *p = *at;
    const unsigned char *lt = memchr(p, '<', end - p);
    if (lt == NULL)
        return DECLINE;
    for (const unsigned char *q = p; q < lt; q++) {
        if (*q == '&') {
            int len = reference_at(q, lt);
            if (len == 0)
                return DECLINE;
            q += len - 1;
        } else if (*q == ']' && lt - q >= 3 && q[1] == ']' && q[2] == '>') {
            return DECLINE;
        }
    }
    *at = lt;
    return ACCEPT;
}

/* A CDATA section at p (just after '<![CDATA['). */
static int cdata(const unsigned char **at, const unsigned char *end)
{
    const unsigned char *close = memmem(*at, end - *at, "]]>", 3);
    if (close == NULL)
        return DECLINE;
    *at = close + 3;
    return ACCEPT;
}

static int scan_document(Scan *s, const unsigned char *p, const unsigned char *end)
{
    if (!valid_xml_utf8(p, end - p))
        return DECLINE;
    p = read_declaration(p, end);
    if (p == NULL)
        return DECLINE;
    int root_done = 0;
    for (;;) {
        p = skip_space(p, end);
        if (p >= end)
            return root_done ? ACCEPT : DECLINE;
        int result;
        if (*p != '<') {
            if (s->depth == 0)
                return DECLINE; /* text outside the root */
            result = text(&p, end);
            if (result != ACCEPT)
                return result;
        }
        p++;
        if (end - p >= 3 && memcmp(p, "!--", 3) == 0) {
            p += 3;
            result = comment(&p, end);
            if (result != ACCEPT)
                return result;
            continue;
        }
        if (s->depth > 0 && end - p >= 8 && memcmp(p, "![CDATA[", 8) == 0) {
            p += 8;
            result = cdata(&p, end);
            if (result != ACCEPT)
                return result;
            continue;
        }
        if (root_done)
            return DECLINE; /* only comments and whitespace may follow the root */
        if (p < end && *p == '/') {
            p++;
            result = end_tag(s, &p, end);
        } else {
            result = start_tag(s, &p, end);
        }
        if (result != ACCEPT)
            return result;
        if (s->depth == 0)
            root_done = 1;
    }
}

static void release(Scan *s)
{
    Py_CLEAR(s->root_ns);
    Py_CLEAR(s->root_local);
    for (int i = 0; i <= TIMBRE; i++)
        Py_CLEAR(s->found[i]);
    Py_CLEAR(s->pagos);
}

static PyObject *or_none(PyObject *value)
{
    return value ? value : Py_None;
}

static PyObject *scan_comprobante(PyObject *module, PyObject *arg)
{
    (void)module;
    Py_buffer view;
    if (PyObject_GetBuffer(arg, &view, PyBUF_SIMPLE) < 0)
        return NULL;
    const unsigned char *p = view.buf, *end = p + view.len;
    if (end - p >= 3 && p[0] == 0xEF && p[1] == 0xBB && p[2] == 0xBF)
        p += 3;
    /* Same leading characters bytes.lstrip() removes before lxml parses. */
    while (p < end && (is_space(*p) || *p == 0x0B || *p == 0x0C))
        p++;

    Scan s; /* the stacks need no clearing: depth and counts say what is in use */
    s.depth = s.ns_count = s.attr_count = 0;
    s.root_ns = s.root_local = s.pagos = s.current_doctos = NULL;
    for (int i = 0; i <= TIMBRE; i++)
        s.found[i] = NULL;
    s.complemento_seen = s.pagos_seen = 0;
    int result = scan_document(&s, p, end);
    PyBuffer_Release(&view);
    if (result != ACCEPT) {
        release(&s);
        if (result == FAILED)
            return NULL;
        Py_RETURN_NONE;
    }
    PyObject *out = PyTuple_Pack(8, s.root_ns, s.root_local, s.found[ROOT], or_none(s.found[EMISOR]),
                                 or_none(s.found[RECEPTOR]), or_none(s.found[IMPUESTOS]),
                                 or_none(s.found[TIMBRE]), or_none(s.pagos));
    release(&s);
    return out;
}

static PyMethodDef methods[] = {
    {"configure", configure, METH_O,
     "configure(names)\n\nThe attribute names the caller reads: scan_comprobante's dicts then hold "
     "only these (all attributes until configured)."},
    {"scan_comprobante", scan_comprobante, METH_O,
     "scan_comprobante(data) -> None | (namespace, local name, root, emisor, receptor, impuestos, "
     "timbre, pagos)\n\nThe CFDI fields the store indexes, or None when the file is outside the "
     "subset of XML this reader accepts (then parse it with lxml)."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module_def = {
    PyModuleDef_HEAD_INIT, "_cfdiscan",
    "A strict, validating reader of the few CFDI fields the store indexes (see the C source).",
    -1, methods, NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit__cfdiscan(void)
{
    init_name_class();
    init_value_special();
    return PyModule_Create(&module_def);
}
