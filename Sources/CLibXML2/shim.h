// The parts of libxml2 the XMLSupport module uses. Only XMLSupport imports this module.
#ifndef CPIS_CLIBXML2_SHIM_H
#define CPIS_CLIBXML2_SHIM_H

// Debian builds libxml2 with ICU, so <libxml/encoding.h> would include the system's ICU headers,
// whose UErrorCode clashes with the ICU copy inside Foundation (module _FoundationICU): a Swift
// module importing both Foundation and this one then fails to build ("'UErrorCode' has different
// definitions in different modules"), depending on build flags (e.g. --sanitize=thread). Nothing
// here uses libxml2's ICU parts; all this removes is the last two pointer fields of
// xmlCharEncodingHandler, a struct Swift never allocates or reads.
#include <libxml/xmlversion.h>
#undef LIBXML_ICU_ENABLED

#include <libxml/parser.h>
#include <libxml/parserInternals.h>
#include <libxml/tree.h>
#include <libxml/xpath.h>
#include <libxml/xpathInternals.h>
#include <libxml/xmlerror.h>
#include <libxml/xmlschemas.h>
#include <libxml/xmlsave.h>

// In libxml2 2.9 `xmlFree` is a global function-pointer variable, which Swift 6 refuses to read
// (shared mutable state). This wrapper is the one way Swift frees what libxml2 allocated.
static inline void cpis_xml_free(void *pointer) { xmlFree(pointer); }

// libxml2 reports a few errors (some in XPath evaluation, some internal ones) only through the
// thread's "generic" error handler, which prints to stderr. Its type is variadic, so Swift can
// neither write one nor hold one: these swap in a handler that discards, and put the old one back.
typedef struct {
    xmlGenericErrorFunc handler;
    void *context;
} cpis_xml_generic_error_handler;

static inline void cpis_xml_discard_generic_error(void *context, const char *message, ...) {
    (void)context;
    (void)message;
}

static inline cpis_xml_generic_error_handler cpis_xml_discard_generic_errors(void) {
    cpis_xml_generic_error_handler saved = { xmlGenericError, xmlGenericErrorContext };
    xmlSetGenericErrorFunc(NULL, cpis_xml_discard_generic_error);
    return saved;
}

static inline void cpis_xml_restore_generic_errors(cpis_xml_generic_error_handler saved) {
    xmlSetGenericErrorFunc(saved.context, saved.handler);
}

#endif
