/* internal.h - names shared inside src/audit/report. */
#ifndef MOAT_AUDIT_REPORT_INTERNAL_H
#define MOAT_AUDIT_REPORT_INTERNAL_H

#include "audit/audit.h"

/* Frees the strings a finding owns (not the finding itself). */
void moat__audit_finding_free(moat_audit_finding *x);

#endif
