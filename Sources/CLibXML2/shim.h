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

#endif
