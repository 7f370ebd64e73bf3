-- What a client wrote reaches the milter's log line only escaped: an
-- envelope sender and recipients with ESC, CR and a fake field.
dofile(os.getenv("MT_DIR") .. "/lib.lua")

local conn = lib.connect()

-- A refused recipient (no key at a required domain): its log line.
mt.macro(conn, SMFIC_MAIL, "i", "ESC1")
lib.check(mt.mailfrom(conn, "<evil\27[2J\rx@client.test>") == nil, "ESC1: MAIL")
lib.check(mt.getreply(conn) == SMFIR_CONTINUE, "ESC1: MAIL continues")
lib.check(mt.rcptto(conn, "<\"a\27]0;pwn\7 state=secure\"@required.smilla.test>") == nil,
	  "ESC1: RCPT")
local r = mt.getreply(conn)
lib.check(r == SMFIR_REPLYCODE or r == SMFIR_REJECT, "ESC1: RCPT refused")
lib.check(mt.rcptto(conn, "<alice@smilla.test>") == nil, "ESC1: RCPT alice")
lib.check(mt.getreply(conn) == SMFIR_CONTINUE, "ESC1: alice continues")
lib.content(conn, "ESC1", lib.plain_headers, { "hello\r\n" })
lib.encrypted(conn, "ESC1")
