/*
 * words.c - the word tables of words.h and their two lookups.
 *
 *   sm_name_code(table, name)      word -> code (-1)
 *   sm_str_name_code(table, code)  code -> word (NULL)
 *   sm_key_state_result(state)     key state -> result code (-1)
 *
 * The tables expand from the X-macro lists in words.h, so the words
 * and the enums cannot drift apart; the lists are short, so a linear
 * search is all a lookup needs.
 */
#include <stddef.h>
#include <string.h>

#include "words.h"

#define RESULT_NAME_(code, word, action, doc) { word, SM_RESULT_##code },
const struct sm_name_code sm_result_names[] = {
	SM_RESULTS(RESULT_NAME_)
	{ NULL, -1 }
};

#define KEY_NAME_(code, word, result) { word, SM_KEY_##code },
const struct sm_name_code sm_key_state_names[] = {
	SM_KEY_STATES(KEY_NAME_)
	{ NULL, -1 }
};

#define ACTION_NAME_(code, word) { word, SM_MIL_##code },
const struct sm_name_code sm_mil_action_names[] = {
	SM_MIL_ACTIONS(ACTION_NAME_)
	{ NULL, -1 }
};

#define FORMAT_NAME_(code, word, type) { word, SM_FORMAT_##code },
const struct sm_name_code sm_format_names[] = {
	SM_FORMATS(FORMAT_NAME_)
	{ NULL, -1 }
};

#define KEY_TYPE_NAME_(code, word) { word, SM_KEY_TYPE_##code },
const struct sm_name_code sm_key_type_names[] = {
	SM_KEY_TYPES(KEY_TYPE_NAME_)
	{ NULL, -1 }
};

#define DIRECTION_NAME_(code, word) { word, SM_DIRECTION_##code },
const struct sm_name_code sm_direction_names[] = {
	SM_DIRECTIONS(DIRECTION_NAME_)
	{ NULL, -1 }
};

const struct sm_word_set sm_word_sets[] = {
	{ "result", sm_result_names },
	{ "key-state", sm_key_state_names },
	{ "action", sm_mil_action_names },
	{ "key-type", sm_key_type_names },
	{ "format", sm_format_names },
	{ "direction", sm_direction_names },
	{ NULL, NULL }
};

int
sm_name_code(const struct sm_name_code *table, const char *name)
{
	const struct sm_name_code *p;

	if (name == NULL)
		return -1;
	for (p = table; p->name != NULL; p++)
		if (strcmp(p->name, name) == 0)
			return p->code;
	return -1;
}

const char *
sm_str_name_code(const struct sm_name_code *table, int code)
{
	const struct sm_name_code *p;

	for (p = table; p->name != NULL; p++)
		if (p->code == code)
			return p->name;
	return NULL;
}

int
sm_key_state_result(int state)
{
#define KEY_RESULT_(code, word, result) result,
	static const int result[] = { SM_KEY_STATES(KEY_RESULT_) };

	return state >= 0 && state < SM_NKEY_STATES ? result[state] : -1;
}

int
sm_format_key_type(int format)
{
#define FORMAT_TYPE_(code, word, type) SM_KEY_TYPE_##type,
	static const int type[] = { SM_FORMATS(FORMAT_TYPE_) };

	return format >= 0 && format < SM_NFORMATS ? type[format] : -1;
}
