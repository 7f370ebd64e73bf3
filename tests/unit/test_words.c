/*
 * test_words - the word tables of src/words.h: both conversions, the
 * codes in enum order (the reputation columns and the report rely on
 * it), the key state -> result mapping, and an action_* option for
 * every result word and no other.
 */
#include <stdio.h>
#include <string.h>

#include "config.h"
#include "tap.h"
#include "words.h"

struct set_case {
	const char *what;
	const struct sm_name_code *table;
	int n;			/* words in the set */
	const char *first, *last;
};

static const struct set_case sets[] = {
	{ "result", sm_result_names, SM_NRESULTS, "pass", "temperror" },
	{ "key state", sm_key_state_names, SM_NKEY_STATES, "secure",
	  "skipped" },
	{ "milter action", sm_mil_action_names, SM_NMIL_ACTIONS, "encrypted",
	  "tempfail" },
	{ "key type", sm_key_type_names, SM_NKEY_TYPES, "tlsa", "delivery" },
	{ "format", sm_format_names, SM_NFORMATS, "smime", "openpgp" },
	{ "direction", sm_direction_names, SM_NDIRECTIONS, "outbound",
	  "inbound" },
};

static void
test_set(const struct set_case *c)
{
	int i, n = 0, order = 1, round = 1;

	for (i = 0; c->table[i].name != NULL; i++) {
		n++;
		order &= c->table[i].code == i;
		round &= sm_name_code(c->table, c->table[i].name) == i &&
			 strcmp(sm_str_name_code(c->table, i),
				c->table[i].name) == 0;
	}
	is_int(n, c->n, c->what);
	ok(order, "%s: codes are the enum, in table order", c->what);
	ok(round, "%s: word -> code -> word for every word", c->what);
	is_int(sm_name_code(c->table, c->first), 0, c->first);
	is_int(sm_name_code(c->table, c->last), c->n - 1, c->last);
	is_str(sm_str_name_code(c->table, 0), c->first, "code 0");
	is_int(sm_name_code(c->table, "frobnicate"), -1, "unknown word: -1");
	is_int(sm_name_code(c->table, ""), -1, "empty word: -1");
	is_int(sm_name_code(c->table, NULL), -1, "NULL word: -1");
	ok(sm_str_name_code(c->table, -1) == NULL, "%s: code -1: NULL",
	   c->what);
	ok(sm_str_name_code(c->table, c->n) == NULL, "%s: code %d: NULL",
	   c->what, c->n);
}

static void
test_words(void)
{
	size_t i;

	for (i = 0; i < sizeof(sets) / sizeof(sets[0]); i++)
		test_set(&sets[i]);
	/* Exact words: the log, the store and smilla.conf never fold case. */
	is_int(sm_name_code(sm_result_names, "PASS"), -1, "PASS is not pass");
	is_int(sm_name_code(sm_result_names, "pas"), -1, "no prefix match");
	is_int(sm_name_code(sm_result_names, "nocert"), SM_RESULT_NOCERT,
	       "nocert");
	is_int(sm_name_code(sm_mil_action_names, "tempfail"),
	       SM_MIL_TEMPFAILED, "the word of TEMPFAILED is tempfail");
	is_str(sm_key_type_names[SM_KEY_TYPE_SMIMEA].name, "smimea",
	       "key types are indexed by their code (the store relies on it)");
}

static void
test_key_results(void)
{
	static const struct {
		int state, result;
	} map[] = {
		{ SM_KEY_SECURE, SM_RESULT_PASS },
		{ SM_KEY_INSECURE, SM_RESULT_NONE },
		{ SM_KEY_NONE, SM_RESULT_NONE },
		{ SM_KEY_UNUSABLE, SM_RESULT_UNUSABLE },
		{ SM_KEY_BOGUS, SM_RESULT_BOGUS },
		{ SM_KEY_TEMPERROR, SM_RESULT_TEMPERROR },
		{ SM_KEY_SKIPPED, -1 },
		{ -1, -1 },
		{ SM_NKEY_STATES, -1 },
	};
	size_t i;

	for (i = 0; i < sizeof(map) / sizeof(map[0]); i++)
		is_int(sm_key_state_result(map[i].state), map[i].result,
		       "key state -> result");
}

/* Every result word has its action_WORD option, and no other exists. */
static void
test_action_keys(void)
{
	struct sm_config *cfg = sm_config_new();
	char key[64];
	int i, n, found, extra = 0;

	ok(cfg != NULL, "sm_config_new");
	for (i = 0; i < SM_NRESULTS; i++) {
		snprintf(key, sizeof(key), "action_%s",
			 sm_result_names[i].name);
		n = sm_config_key(key);
		found = n == (int)SM_K_ACTION(i) &&
			sm_options[n].type == SM_OPT_STRING &&
			sm_options[n].check != NULL &&
			*sm_options[n].doc != '\0';
		ok(found, "option %s exists as SM_K_ACTION(%d), checked and "
		   "documented", key, i);
		ok(found && cfg != NULL &&
		   *sm_config_str(cfg, SM_K_ACTION(i)) != '\0',
		   "%s has a default", key);
	}
	for (n = 0; n < SM_K_COUNT; n++)
		if (strncmp(sm_options[n].name, "action_", 7) == 0 &&
		    sm_name_code(sm_result_names, sm_options[n].name + 7) < 0)
			extra++;
	is_int(extra, 0, "no action_* option without its result word");
	sm_config_free(cfg);
}

/* The sets smillactl lists (config --words) are the six tables. */
static void
test_word_sets(void)
{
	int n = 0;

	while (sm_word_sets[n].name != NULL)
		n++;
	is_int(n, 6, "six word sets");
	ok(sm_word_sets[0].table == sm_result_names &&
	   strcmp(sm_word_sets[0].name, "result") == 0, "set result");
	ok(sm_word_sets[1].table == sm_key_state_names &&
	   strcmp(sm_word_sets[1].name, "key-state") == 0, "set key-state");
	ok(sm_word_sets[2].table == sm_mil_action_names &&
	   strcmp(sm_word_sets[2].name, "action") == 0, "set action");
	ok(sm_word_sets[3].table == sm_key_type_names &&
	   strcmp(sm_word_sets[3].name, "key-type") == 0, "set key-type");
	ok(sm_word_sets[4].table == sm_format_names &&
	   strcmp(sm_word_sets[4].name, "format") == 0, "set format");
	ok(sm_word_sets[5].table == sm_direction_names &&
	   strcmp(sm_word_sets[5].name, "direction") == 0, "set direction");
	/* Each format's keys are of a key type. */
	is_int(sm_format_key_type(SM_FORMAT_SMIME), SM_KEY_TYPE_SMIMEA,
	       "smime keys are smimea");
	is_int(sm_format_key_type(SM_FORMAT_OPENPGP), SM_KEY_TYPE_OPENPGPKEY,
	       "openpgp keys are openpgpkey");
	is_int(sm_format_key_type(SM_NFORMATS), -1, "no such format: -1");
}

int
main(void)
{
	test_words();
	test_key_results();
	test_action_keys();
	test_word_sets();
	return done_testing();
}
