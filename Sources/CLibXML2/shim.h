// The parts of libxml2 the XMLSupport module uses. Only XMLSupport imports this module.
#ifndef CPIS_CLIBXML2_SHIM_H
#define CPIS_CLIBXML2_SHIM_H

#include <libxml/parser.h>
#include <libxml/tree.h>
#include <libxml/xpath.h>
#include <libxml/xpathInternals.h>
#include <libxml/xmlerror.h>
#include <libxml/xmlschemas.h>
#include <libxml/xmlsave.h>

// In libxml2 2.9 `xmlFree` is a global function-pointer variable, which Swift 6 refuses to read
// (shared mutable state). This wrapper is the one way Swift frees what libxml2 allocated.
static inline void cpis_xml_free(void *pointer) { xmlFree(pointer); }

#endif
