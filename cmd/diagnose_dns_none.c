/*
 * diagnose_dns_none: TEMPORARY stand-in for cmd/diagnose_dns.c (checks 4
 * to 7 of `rmail diagnose`), so the binary links until that file lands.
 * Delete this file in the commit that adds cmd/diagnose_dns.c.
 */
#include "cmd/diagnose.h"

void
diag_check_dns(struct diag *d, const struct diag_ctx *ctx)
{
	(void)ctx;
	diag_add(d, "dns", DIAG_SKIP, NULL, "DNS checks not built");
}
