/*
 * fuzz_rdata - libFuzzer target for TLSA/SMIMEA RDATA as DNS hands it
 * over: the input is split into records (a length octet before each),
 * parsed, printed in generic form, and matched against two
 * fingerprints taken from the input's first 128 octets, as
 * smilla-policyd does for every decision.  What must hold: no crash,
 * no leak, and a report whose verdicts agree with its result.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dane.h"
#include "rr.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sm_rdata rrs[16];
	struct sm_dane_report *rep;
	struct sm_tlsa t;
	uint8_t fp[128] = { 0 };	/* two SHA-512 digests at most */
	size_t n = 0, i, len;
	char why[256], *text;
	int alg, matched = 0;

	if (size < 1)
		return 0;
	alg = data[0] & 1 ? SM_DIGEST_SHA512 : SM_DIGEST_SHA256;
	memcpy(fp, data, size < sizeof(fp) ? size : sizeof(fp));
	for (i = 1; i < size && n < 16; i += len) {
		len = data[i++];
		if (len > size - i)
			len = size - i;
		rrs[n].data = (uint8_t *)data + i;
		rrs[n++].len = len;
		if (sm_rr_tlsa_parse(data + i, len, &t, why, sizeof(why)) == 0 &&
		    t.len > len)
			abort();
		if ((text = sm_rr_format(52, data + i, len)) == NULL)
			abort();
		free(text);
	}
	if ((rep = sm_dane_match_fp(rrs, n, fp, fp + 64, alg)) == NULL)
		abort();
	for (i = 0; i < rep->count; i++)
		matched |= rep->recs[i].verdict == SM_DANE_REC_MATCH;
	if ((rep->result == SM_DANE_PASS) != matched ||
	    (rep->result == SM_DANE_PASS &&
	     rep->recs[rep->matched].verdict != SM_DANE_REC_MATCH))
		abort();
	sm_dane_report_free(rep);
	return 0;
}
